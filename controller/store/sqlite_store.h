// The embedded controller store: one SQLite database file in WAL mode with
// synchronous=FULL, so a commit that returned survives a crash or power loss.
//
//   absl::StatusOr<std::unique_ptr<ControllerStore>> store =
//       OpenSqliteStore(data_dir / "controller.db");
//
// Thread-safety: one read-write connection, guarded by a mutex, serves every
// write and most reads. SQLite is opened without its own locking (NOMUTEX)
// because of that mutex. Two kinds of read use connections of their own:
//   - GetOrder and GetEnrollment, on the attestation path, read through a
//     read-only connection with its own mutex; in WAL mode they never wait
//     for a batch commit.
//   - ForEachInventoryFile reads in a read transaction on a connection of its
//     own, so a long reconciliation neither blocks the gRPC handlers nor sees
//     a half-finished import; its callback may call the store.
// AppendBatch writes many attestations and their tree head in one transaction
// and one fsync; the transparency log gathers concurrent attestations into
// such batches (group commit). A thread of the store's own copies the WAL
// into the database file (WalCheckpointer), so that most commits do not.
// Other processes (a CLI command next to `serve`) may open the same file:
// SQLite's file locks order them, and a lock held longer than the busy
// timeout is UNAVAILABLE.
#ifndef OFFBOARD_CONTROLLER_STORE_SQLITE_STORE_H_
#define OFFBOARD_CONTROLLER_STORE_SQLITE_STORE_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store/migrations.h"
#include "controller/store/sqlite_handle.h"
#include "controller/store/store.h"
#include "controller/store/wal_checkpointer.h"

namespace offboard::controller {

// How long a call waits for another process's lock before UNAVAILABLE.
inline constexpr int kSqliteBusyTimeoutMs = 5000;

// Opens the SQLite database at `path`, creating it (mode 0600; SQLite gives
// its -wal and -shm files the same mode) when missing, but not its directory.
// Sets journal_mode=WAL, synchronous=FULL, foreign_keys=ON and the busy
// timeout, and applies ControllerMigrations(). Errors name the path:
// NOT_FOUND / PERMISSION_DENIED when it cannot be opened, DATA_LOSS when it
// is not a SQLite database, FAILED_PRECONDITION when a newer controller wrote
// it (its schema and data are left untouched).
absl::StatusOr<std::unique_ptr<ControllerStore>> OpenSqliteStore(
    const boost::filesystem::path& path);

// The same with other migrations, for tests of upgrades.
absl::StatusOr<std::unique_ptr<ControllerStore>> OpenSqliteStore(
    const boost::filesystem::path& path, const std::vector<Migration>& migrations);

// The implementation behind OpenSqliteStore; its methods are documented in
// store.h. Callers hold it as a ControllerStore.
class SqliteStore final : public ControllerStore {
 public:
  // `reader` is a read-only connection to the same file, `checkpointer` a
  // read-write one for the WAL checkpoints.
  SqliteStore(boost::filesystem::path path, SqliteDb db, SqliteDb reader, SqliteDb checkpointer)
      : path_(std::move(path)),
        db_(std::move(db)),
        statements_(db_.get()),
        reader_(std::move(reader)),
        reader_statements_(reader_.get()),
        checkpointer_(WalCheckpointer::Start(db_.get(), std::move(checkpointer))) {}

  absl::Status PutToken(const EnrollmentToken& token) override;
  absl::StatusOr<Enrollment> ConsumeTokenAndEnroll(absl::string_view token_sha256_hex, int64_t now,
                                                   Enrollment enrollment,
                                                   const CompleteEnrollment& complete) override;
  absl::StatusOr<Enrollment> GetEnrollment(absl::string_view agent_id) override;
  absl::StatusOr<std::vector<Enrollment>> ListEnrollments(absl::string_view vendor_id) override;
  absl::Status BanAgent(absl::string_view agent_id, int64_t at) override;

  absl::StatusOr<ImportCounts> ImportInventory(
      const std::vector<InventoryFileRow>& files,
      const std::vector<FingerprintSetRow>& fingerprints) override;
  absl::Status ForEachInventoryFile(
      absl::string_view contract_id,
      const std::function<absl::Status(const InventoryFileRow&)>& fn) override;
  absl::StatusOr<std::vector<std::string>> ContractIds() override;
  absl::StatusOr<std::vector<FingerprintSetRow>> FingerprintSetsForContract(
      absl::string_view contract_id) override;

  absl::Status PutOrders(const std::vector<OrderRow>& orders) override;
  absl::StatusOr<OrderRow> GetOrder(absl::string_view order_id) override;
  absl::StatusOr<std::vector<OrderRow>> OrdersForAgent(absl::string_view agent_id) override;
  absl::StatusOr<std::vector<OrderRow>> OrdersForContract(absl::string_view contract_id) override;

  absl::StatusOr<std::vector<absl::StatusOr<AttestationRow>>> AppendBatch(
      const std::vector<NewLeaf>& leaves, const HeadForBatch& head_for) override;
  absl::StatusOr<std::vector<AttestationRow>> AttestationsForContract(
      absl::string_view contract_id) override;
  absl::StatusOr<AttestationRow> GetAttestation(uint64_t log_index) override;
  absl::StatusOr<std::vector<std::string>> AnsweredOrders(absl::string_view contract_id) override;
  absl::StatusOr<AttestationRow> AttestationFor(absl::string_view order_id,
                                                absl::string_view agent_id,
                                                uint32_t part_index = 1) override;
  absl::StatusOr<uint64_t> LogSize() override;
  absl::StatusOr<std::vector<std::string>> LeafHashes(uint64_t begin, uint64_t end) override;
  absl::Status PutTreeHead(const TreeHeadRow& head) override;
  absl::StatusOr<TreeHeadRow> LatestTreeHead() override;
  absl::StatusOr<std::vector<TreeHeadRow>> TreeHeads() override;

  absl::Status PutRefusal(const RefusalRow& refusal) override;
  absl::StatusOr<std::vector<RefusalRow>> RefusalsForContract(
      absl::string_view contract_id) override;
  absl::Status PutSelfAttestation(const SelfAttestationRow& row) override;
  absl::StatusOr<std::vector<SelfAttestationRow>> SelfAttestationsForContract(
      absl::string_view contract_id) override;

  absl::StatusOr<std::string> IntegrityCheck() override;

 private:
  // An attestation row from columns log_index, order_id, agent_id,
  // envelope, leaf_hash_hex, accepted_at.
  static AttestationRow AttestationFrom(const Statement& row);
  // LogSize with mutex_ held.
  absl::StatusOr<uint64_t> LogSizeLocked();
  // AttestationFor with mutex_ held.
  absl::StatusOr<AttestationRow> AttestationForLocked(absl::string_view order_id,
                                                      absl::string_view agent_id,
                                                      uint32_t part_index);
  // One leaf inside AppendBatch's transaction; `next_index` is the log size
  // so far and grows with each leaf added.
  absl::StatusOr<AttestationRow> AppendLocked(const NewLeaf& leaf, uint64_t& next_index);
  // PutTreeHead's checks and insert inside a transaction; `log_size` is the
  // log's size in it.
  absl::Status PutTreeHeadLocked(const TreeHeadRow& head, uint64_t log_size);

  const boost::filesystem::path path_;
  std::mutex mutex_;
  SqliteDb db_;  // guarded by mutex_
  // The statements every attestation runs on db_, prepared once; those run
  // now and then (imports, listings, checks) are prepared when run.
  StatementCache statements_;  // guarded by mutex_
  // The lookups every attestation makes (GetOrder, GetEnrollment) read here:
  // in WAL mode a reader does not wait for the writer, so they go on while a
  // batch commits under mutex_, which takes milliseconds for its fsync.
  std::mutex reader_mutex_;
  SqliteDb reader_;  // guarded by reader_mutex_
  StatementCache reader_statements_;  // guarded by reader_mutex_
  // Last, so that it stops before the connections close.
  const std::unique_ptr<WalCheckpointer> checkpointer_;
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_STORE_SQLITE_STORE_H_
