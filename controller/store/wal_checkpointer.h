// Checkpoints the controller's WAL on a thread of its own, so that a commit
// does not wait for the WAL to be copied into the database file.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its
// threshold: that commit, and every attestation of its batch, waits for the
// copy and an fsync of the database file (most of the intake's p99). Here a
// commit that leaves at least `wake_pages` frames in the WAL wakes a thread
// that checkpoints PASSIVE through a connection of its own, which never
// blocks the writer. Under writes without a pause such a checkpoint may never
// reach the WAL's end, and SQLite rewinds the WAL only after one that did; so
// a commit that leaves at least `bound_pages` frames checkpoints inline, as
// SQLite's own would, and the WAL stays bounded (past the bound by the few
// commits that meet the thread's checkpoint still running).
//
//   std::unique_ptr<WalCheckpointer> checkpointer =
//       WalCheckpointer::Start(writer.get(), std::move(second_connection));
//
// Destroy it before the writer connection. Thread-safe.
#ifndef OFFBOARD_CONTROLLER_STORE_WAL_CHECKPOINTER_H_
#define OFFBOARD_CONTROLLER_STORE_WAL_CHECKPOINTER_H_

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "controller/store/sqlite_handle.h"

namespace offboard::controller {

struct WalCheckpointLimits {
  // WAL frames, one page each: 4 MiB and 32 MiB with the store's 16 KiB
  // pages (a database made before then keeps its smaller pages).
  int wake_pages = 256;
  int bound_pages = 2000;  // SQLite's own threshold is 1000
};

class WalCheckpointer {
 public:
  // `writer` is the connection that commits; its WAL hook is taken over
  // until the destructor hands it back.
  // `checkpointer` is a read-write connection to the same file, used only by
  // the checkpoint thread.
  static std::unique_ptr<WalCheckpointer> Start(sqlite3* writer, SqliteDb checkpointer,
                                                WalCheckpointLimits limits = {});
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // For tests: waits until no checkpoint is asked for or running, and the
  // checkpoints finished on the thread and inline at the bound.
  void WaitUntilIdle();
  uint64_t background_checkpoints() const;
  uint64_t inline_checkpoints() const;

 private:
  WalCheckpointer(sqlite3* writer, SqliteDb checkpointer, WalCheckpointLimits limits);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int pages);
  // Asks the thread (started here the first time) for a checkpoint; false
  // when no thread could be started.
  bool Wake();
  void Run();

  sqlite3* const writer_;
  const WalCheckpointLimits limits_;
  const int previous_pages_;  // the writer's automatic checkpoint before Start
  SqliteDb connection_;  // used by thread_ only
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  bool pending_ = false;     // guarded by mutex_
  bool running_ = false;     // guarded by mutex_
  bool stopping_ = false;    // guarded by mutex_
  uint64_t background_ = 0;  // guarded by mutex_
  uint64_t inline_ = 0;      // guarded by mutex_
  std::thread thread_;       // started by the first commit that asks; guarded by mutex_
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_STORE_WAL_CHECKPOINTER_H_
