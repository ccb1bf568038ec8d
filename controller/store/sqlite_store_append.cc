// SqliteStore::AppendBatch: adding leaves to the transparency log, and the
// signed head that covers them, in one transaction.
//
// Each commit in WAL mode with synchronous=FULL costs an fsync, and the log
// must be written by one writer at a time to stay dense. The transparency log
// therefore queues concurrent attestations and hands them over here together
// (group commit), with its head: one commit makes both the leaves and the
// head durable, so that the receipts may go out.
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "controller/store/sqlite_store.h"

namespace offboard::controller {

absl::StatusOr<std::vector<absl::StatusOr<AttestationRow>>> SqliteStore::AppendBatch(
    const std::vector<NewLeaf>& leaves, const HeadForBatch& head_for) {
  std::lock_guard<std::mutex> lock(mutex_);
  sqlite3* db = db_.get();
  OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db));
  OFFBOARD_ASSIGN_OR_RETURN(const uint64_t size_before, LogSizeLocked());
  uint64_t next_index = size_before;
  std::vector<absl::StatusOr<AttestationRow>> results;
  results.reserve(leaves.size());  // `appended` points into it
  std::vector<const AttestationRow*> appended;
  for (const NewLeaf& leaf : leaves) {
    // A refused leaf rolls back only its own statement; the others go on.
    const uint64_t index = next_index;
    results.push_back(AppendLocked(leaf, next_index));
    if (sqlite3_get_autocommit(db) != 0) {
      // SQLite ended the whole transaction (disk full, I/O error): nothing of
      // the batch is stored.
      return results.back().ok() ? absl::InternalError("transaction ended during an append")
                                 : results.back().status();
    }
    // Only a leaf that took an index is new; the same envelope twice in one
    // batch gets the first one's row back.
    if (next_index > index) appended.push_back(&*results.back());
  }
  if (head_for != nullptr && !appended.empty()) {
    OFFBOARD_ASSIGN_OR_RETURN(const TreeHeadRow head, head_for(appended));
    OFFBOARD_RETURN_IF_ERROR(PutTreeHeadLocked(head, next_index));
  }
  OFFBOARD_RETURN_IF_ERROR(txn.Commit());
  return results;
}

absl::StatusOr<AttestationRow> SqliteStore::AppendLocked(const NewLeaf& leaf,
                                                         uint64_t& next_index) {
  const LeafPart& part = leaf.part;
  const std::string which =
      part.count == 1 ? "" : absl::StrCat(" (part ", part.index, " of ", part.count, ")");
  absl::StatusOr<AttestationRow> existing =
      AttestationForLocked(leaf.order_id, leaf.agent_id, part.index);
  if (existing.ok()) {
    // A retry after a lost receipt gets the stored row: committed already,
    // or committed with this batch when both came in it.
    if (existing->envelope == leaf.envelope) return existing;
    return absl::AlreadyExistsError(absl::StrCat("order ", leaf.order_id,
                                                 " already has another attestation", which,
                                                 " from agent ", leaf.agent_id));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  // The parts of one attestation: one run, one count.
  OFFBOARD_ASSIGN_OR_RETURN(Statement sibling,
                            statements_.Prepare("SELECT run_id, part_count FROM attestations"
                                                " WHERE order_id = ?1 AND agent_id = ?2 LIMIT 1"));
  sibling.BindText(1, leaf.order_id);
  sibling.BindText(2, leaf.agent_id);
  OFFBOARD_ASSIGN_OR_RETURN(const bool has_sibling, sibling.Step());
  if (has_sibling &&
      (sibling.Bytes(0) != part.run_id || sibling.Int64(1) != static_cast<int64_t>(part.count))) {
    return absl::AlreadyExistsError(absl::StrCat(
        "order ", leaf.order_id, " already has an attestation from agent ", leaf.agent_id,
        " of run \"", sibling.Bytes(0), "\" in ", sibling.Int64(1), " part(s); this one", which,
        " is of run \"", part.run_id, "\" in ", part.count));
  }

  // Checked again here, where the log's writes are serialized with the ban:
  // the intake checked the enrollment before this transaction began.
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement banned,
      statements_.Prepare("SELECT 1 FROM enrollments WHERE agent_id = ?1 AND banned = 1"));
  banned.BindText(1, leaf.agent_id);
  OFFBOARD_ASSIGN_OR_RETURN(const bool is_banned, banned.Step());
  if (is_banned) {
    return absl::PermissionDeniedError(absl::StrCat("agent ", leaf.agent_id, " is banned"));
  }

  OFFBOARD_ASSIGN_OR_RETURN(Statement order,
                            statements_.Prepare("SELECT 1 FROM orders WHERE order_id = ?1"));
  order.BindText(1, leaf.order_id);
  OFFBOARD_ASSIGN_OR_RETURN(const bool order_known, order.Step());
  if (!order_known) {
    return absl::NotFoundError(absl::StrCat("order ", leaf.order_id, " is unknown"));
  }

  // The write lock is held since BEGIN IMMEDIATE, so no other writer can
  // take this index: the log stays dense.
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      statements_.Prepare("INSERT INTO attestations (log_index, order_id, agent_id, envelope,"
                          " leaf_hash_hex, accepted_at, run_id, part_index, part_count)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  insert.BindInt64(1, static_cast<int64_t>(next_index))
      .BindText(2, leaf.order_id)
      .BindText(3, leaf.agent_id)
      .BindBlobNoCopy(4, leaf.envelope)  // the caller's, alive until the insert is done
      .BindText(5, leaf.leaf_hash_hex)
      .BindInt64(6, leaf.accepted_at)
      .BindText(7, part.run_id)
      .BindInt64(8, part.index)
      .BindInt64(9, part.count);
  if (absl::Status inserted = insert.Run(); !inserted.ok()) {
    if (inserted.code() != absl::StatusCode::kFailedPrecondition) return inserted;
    return absl::FailedPreconditionError(absl::StrCat("agent ", leaf.agent_id, " is not enrolled"));
  }
  return AttestationRow{next_index++,
                        std::string(leaf.order_id),
                        std::string(leaf.agent_id),
                        std::string(leaf.envelope),
                        std::string(leaf.leaf_hash_hex),
                        leaf.accepted_at,
                        part};
}

}  // namespace offboard::controller
