// SqliteStore::AppendAttestation: adding leaves to the transparency log with
// group commit.
//
// Each commit in WAL mode with synchronous=FULL costs an fsync (about a
// millisecond on a good disk), and the log must be written by one writer at a
// time to stay dense. Committing each attestation alone would cap intake at
// roughly one attestation per fsync. Instead, callers queue; one of them (the
// one that finds no commit in progress) writes everything queued in one
// transaction, commits once, and wakes the others. Nobody returns before the
// commit that holds their leaf is durable, so receipts stay truthful.
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "controller/store/sqlite_store.h"

namespace offboard::controller {

struct SqliteStore::PendingAppend {
  absl::string_view order_id;
  absl::string_view agent_id;
  absl::string_view envelope;
  absl::string_view leaf_hash_hex;
  int64_t accepted_at = 0;
  // Written by the committing caller, read by the owner once `done`.
  absl::StatusOr<AttestationRow> result = absl::UnknownError("not committed");
  bool done = false;  // guarded by append_mutex_
};

absl::StatusOr<AttestationRow> SqliteStore::AppendAttestation(absl::string_view order_id,
                                                              absl::string_view agent_id,
                                                              absl::string_view envelope,
                                                              absl::string_view leaf_hash_hex,
                                                              int64_t accepted_at) {
  PendingAppend mine{order_id, agent_id, envelope, leaf_hash_hex, accepted_at};
  std::unique_lock<std::mutex> lock(append_mutex_);
  append_queue_.push_back(&mine);
  while (!mine.done) {
    if (append_committing_) {
      append_done_.wait(lock);
      continue;
    }
    // No commit in progress, so `mine` is still queued: commit for everyone.
    append_committing_ = true;
    std::vector<PendingAppend*> batch;
    batch.swap(append_queue_);
    lock.unlock();
    CommitAppends(batch);
    lock.lock();
    for (PendingAppend* append : batch) append->done = true;
    append_committing_ = false;
    append_done_.notify_all();
  }
  return std::move(mine.result);
}

void SqliteStore::CommitAppends(const std::vector<PendingAppend*>& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  sqlite3* db = db_.get();
  const auto fail_all = [&](const absl::Status& status) {
    for (PendingAppend* append : batch) append->result = status;
  };
  absl::StatusOr<Transaction> txn = Transaction::BeginImmediate(db);
  if (!txn.ok()) return fail_all(txn.status());
  absl::StatusOr<uint64_t> size = LogSizeLocked();
  if (!size.ok()) return fail_all(size.status());
  uint64_t next_index = *size;
  for (PendingAppend* append : batch) {
    // A refused attestation rolls back only its own statement; the others
    // in the batch go on.
    append->result = AppendLocked(*append, next_index);
    if (sqlite3_get_autocommit(db) != 0) {
      // SQLite ended the whole transaction (disk full, I/O error): nothing of
      // the batch is stored, and every caller hears so.
      return fail_all(append->result.ok()
                          ? absl::InternalError("transaction ended during an append")
                          : append->result.status());
    }
  }
  if (absl::Status committed = txn->Commit(); !committed.ok()) {
    for (PendingAppend* append : batch) {
      if (append->result.ok()) append->result = committed;
    }
  }
}

absl::StatusOr<AttestationRow> SqliteStore::AppendLocked(const PendingAppend& append,
                                                         uint64_t& next_index) {
  sqlite3* db = db_.get();
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement existing,
      Statement::Prepare(db,
                         "SELECT log_index, order_id, agent_id, envelope, leaf_hash_hex,"
                         " accepted_at FROM attestations WHERE order_id = ?1 AND agent_id = ?2"));
  existing.BindText(1, append.order_id).BindText(2, append.agent_id);
  OFFBOARD_ASSIGN_OR_RETURN(const bool answered, existing.Step());
  if (answered) {
    // A retry after a lost receipt gets the stored row: committed already,
    // or committed with this batch when both came in it.
    if (existing.View(3) == append.envelope) return AttestationFrom(existing);
    return absl::AlreadyExistsError(absl::StrCat("order ", append.order_id,
                                                 " already has another attestation from agent ",
                                                 append.agent_id));
  }

  OFFBOARD_ASSIGN_OR_RETURN(Statement order,
                            Statement::Prepare(db, "SELECT 1 FROM orders WHERE order_id = ?1"));
  order.BindText(1, append.order_id);
  OFFBOARD_ASSIGN_OR_RETURN(const bool order_known, order.Step());
  if (!order_known) {
    return absl::NotFoundError(absl::StrCat("order ", append.order_id, " is unknown"));
  }

  // The write lock is held since BEGIN IMMEDIATE, so no other writer can
  // take this index: the log stays dense.
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db,
                         "INSERT INTO attestations (log_index, order_id, agent_id, envelope,"
                         " leaf_hash_hex, accepted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  insert.BindInt64(1, static_cast<int64_t>(next_index))
      .BindText(2, append.order_id)
      .BindText(3, append.agent_id)
      .BindBlob(4, append.envelope)
      .BindText(5, append.leaf_hash_hex)
      .BindInt64(6, append.accepted_at);
  if (absl::Status inserted = insert.Run(); !inserted.ok()) {
    if (inserted.code() != absl::StatusCode::kFailedPrecondition) return inserted;
    return absl::FailedPreconditionError(
        absl::StrCat("agent ", append.agent_id, " is not enrolled"));
  }
  return AttestationRow{next_index++,
                        std::string(append.order_id),
                        std::string(append.agent_id),
                        std::string(append.envelope),
                        std::string(append.leaf_hash_hex),
                        append.accepted_at};
}

}  // namespace offboard::controller
