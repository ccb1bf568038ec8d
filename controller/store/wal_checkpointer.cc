#include "controller/store/wal_checkpointer.h"

#include <system_error>

#include "common/log/audit.h"

namespace offboard::controller {
namespace {

constexpr int kSqliteDefaultCheckpointPages = 1000;  // SQLITE_DEFAULT_WAL_AUTOCHECKPOINT

// The connection's automatic checkpoint threshold, to hand back at the end.
int AutoCheckpointPages(sqlite3* db) {
  absl::StatusOr<Statement> pragma = Statement::Prepare(db, "PRAGMA wal_autocheckpoint");
  if (!pragma.ok()) return kSqliteDefaultCheckpointPages;
  absl::StatusOr<bool> row = pragma->Step();
  return row.ok() && *row ? static_cast<int>(pragma->Int64(0)) : kSqliteDefaultCheckpointPages;
}

// What SQLite's own hook does. A busy checkpoint (another connection's is
// running) is no failure of the commit.
bool CheckpointInline(sqlite3* db, const char* schema) {
  return sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
         SQLITE_OK;
}

}  // namespace

std::unique_ptr<WalCheckpointer> WalCheckpointer::Start(sqlite3* writer, SqliteDb checkpointer,
                                                        WalCheckpointLimits limits) {
  std::unique_ptr<WalCheckpointer> started(
      new WalCheckpointer(writer, std::move(checkpointer), limits));
  // Replaces SQLite's automatic checkpoint, which is itself a WAL hook.
  sqlite3_wal_hook(writer, &WalCheckpointer::OnCommit, started.get());
  return started;
}

WalCheckpointer::WalCheckpointer(sqlite3* writer, SqliteDb checkpointer, WalCheckpointLimits limits)
    : writer_(writer),
      limits_(limits),
      previous_pages_(AutoCheckpointPages(writer)),
      connection_(std::move(checkpointer)) {}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_autocheckpoint(writer_, previous_pages_);  // SQLite's own hook again
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  // At the bound the thread did not keep up (or its checkpoint is still
  // running, and this one is busy: the next commit tries again). Without a
  // thread, as SQLite would.
  if (pages >= checkpointer->limits_.bound_pages ||
      (pages >= checkpointer->limits_.wake_pages && !checkpointer->Wake())) {
    const bool done = CheckpointInline(db, schema);
    std::lock_guard lock(checkpointer->mutex_);
    if (done) ++checkpointer->inline_;
  }
  return SQLITE_OK;
}

bool WalCheckpointer::Wake() {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) {
      // Started on first need: a store that only ever makes small commits
      // (a CLI command) runs no thread, and may fork. No exception may pass
      // through SQLite's C frames, so a thread that cannot start is a false.
      try {
        thread_ = std::thread([this] { Run(); });
      } catch (const std::system_error&) {
        return false;
      }
    }
    pending_ = true;
  }
  wake_.notify_one();
  return true;
}

void WalCheckpointer::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return pending_ || stopping_; });
    if (stopping_) return;
    pending_ = false;
    running_ = true;
    lock.unlock();
    const int rc = sqlite3_wal_checkpoint_v2(connection_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
      // The commit path checkpoints at the bound, so nothing is lost; say why.
      common::AuditEvent(
          "wal_checkpoint_failed",
          {{"reason", SqliteStatus(connection_.get(), rc, "checkpoint").ToString()}});
    }
    lock.lock();
    running_ = false;
    if (rc == SQLITE_OK) ++background_;
    idle_.notify_all();
  }
}

void WalCheckpointer::WaitUntilIdle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return (!pending_ && !running_) || stopping_; });
}

uint64_t WalCheckpointer::background_checkpoints() const {
  std::lock_guard lock(mutex_);
  return background_;
}

uint64_t WalCheckpointer::inline_checkpoints() const {
  std::lock_guard lock(mutex_);
  return inline_;
}

}  // namespace offboard::controller
