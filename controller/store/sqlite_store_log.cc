// SqliteStore: orders, reading the transparency log, tree heads, refusals,
// self-attestations and maintenance. Opening, enrollment and the inventory
// are in sqlite_store.cc; appending to the log in sqlite_store_append.cc.
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"
#include "controller/store/sqlite_store.h"

namespace offboard::controller {
namespace {

// The columns OrderFrom reads, in its order.
constexpr char kSelectOrders[] =
    "SELECT order_id, contract_id, vendor_id, host_id, agent_id, nonce_hex, policy_name,"
    " issued_at, expires_at, envelope FROM orders";

// The columns AttestationFrom reads, in its order; the second as of the
// attestations table's alias "a".
constexpr char kSelectAttestations[] =
    "SELECT log_index, order_id, agent_id, envelope, leaf_hash_hex, accepted_at, run_id,"
    " part_index, part_count FROM attestations";
constexpr char kSelectAttestationsAsA[] =
    "SELECT a.log_index, a.order_id, a.agent_id, a.envelope, a.leaf_hash_hex, a.accepted_at,"
    " a.run_id, a.part_index, a.part_count FROM attestations a";

constexpr uint64_t kMaxIndex = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// Column order of every order SELECT below.
OrderRow OrderFrom(const Statement& row) {
  OrderRow order;
  order.order_id = row.Bytes(0);
  order.contract_id = row.Bytes(1);
  order.vendor_id = row.Bytes(2);
  order.host_id = row.Bytes(3);
  order.agent_id = row.Bytes(4);
  order.nonce_hex = row.Bytes(5);
  order.policy_name = row.Bytes(6);
  order.issued_at = row.Int64(7);
  order.expires_at = row.Int64(8);
  order.envelope = row.Bytes(9);
  return order;
}

TreeHeadRow TreeHeadFrom(const Statement& row) {
  return TreeHeadRow{static_cast<uint64_t>(row.Int64(0)), row.Bytes(1), row.Int64(2), row.Bytes(3)};
}

}  // namespace

// Column order of every attestation SELECT.
AttestationRow SqliteStore::AttestationFrom(const Statement& row) {
  AttestationRow attestation;
  attestation.log_index = static_cast<uint64_t>(row.Int64(0));
  attestation.order_id = row.Bytes(1);
  attestation.agent_id = row.Bytes(2);
  attestation.envelope = row.Bytes(3);
  attestation.leaf_hash_hex = row.Bytes(4);
  attestation.accepted_at = row.Int64(5);
  attestation.part.run_id = row.Bytes(6);
  attestation.part.index = static_cast<uint32_t>(row.Int64(7));
  attestation.part.count = static_cast<uint32_t>(row.Int64(8));
  return attestation;
}

absl::Status SqliteStore::PutOrders(const std::vector<OrderRow>& orders) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db_.get()));
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db_.get(),
                         "INSERT INTO orders (order_id, contract_id, vendor_id, host_id, agent_id,"
                         " nonce_hex, policy_name, issued_at, expires_at, envelope)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  for (const OrderRow& order : orders) {
    insert.Reset();
    insert.BindText(1, order.order_id)
        .BindText(2, order.contract_id)
        .BindText(3, order.vendor_id)
        .BindText(4, order.host_id)
        .BindText(5, order.agent_id)
        .BindText(6, order.nonce_hex)
        .BindText(7, order.policy_name)
        .BindInt64(8, order.issued_at)
        .BindInt64(9, order.expires_at)
        .BindBlob(10, order.envelope);
    absl::Status inserted = insert.Run();
    if (inserted.code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(
          absl::StrCat("order ", order.order_id, " already exists; no order was stored"));
    }
    if (inserted.code() == absl::StatusCode::kFailedPrecondition) {
      return absl::FailedPreconditionError(
          absl::StrCat("order ", order.order_id, ": agent ", order.agent_id, " is not enrolled"));
    }
    OFFBOARD_RETURN_IF_ERROR(inserted);
  }
  return txn.Commit();
}

absl::StatusOr<OrderRow> SqliteStore::GetOrder(absl::string_view order_id) {
  std::lock_guard<std::mutex> lock(reader_mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(Statement query, reader_statements_.Prepare(absl::StrCat(
                                                 kSelectOrders, " WHERE order_id = ?1")));
  query.BindText(1, order_id);
  OFFBOARD_ASSIGN_OR_RETURN(const bool found, query.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("order ", order_id, " is unknown"));
  return OrderFrom(query);
}

absl::StatusOr<std::vector<OrderRow>> SqliteStore::OrdersForAgent(absl::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(), absl::StrCat(kSelectOrders, " WHERE agent_id = ?1"
                                                                 " ORDER BY issued_at, order_id")));
  query.BindText(1, agent_id);
  return AllRows<OrderRow>(query, OrderFrom);
}

absl::StatusOr<std::vector<OrderRow>> SqliteStore::OrdersForContract(
    absl::string_view contract_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(), absl::StrCat(kSelectOrders, " WHERE contract_id = ?1"
                                                                 " ORDER BY issued_at, order_id")));
  query.BindText(1, contract_id);
  return AllRows<OrderRow>(query, OrderFrom);
}

absl::StatusOr<std::vector<AttestationRow>> SqliteStore::AttestationsForContract(
    absl::string_view contract_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         absl::StrCat(kSelectAttestationsAsA,
                                      " JOIN orders o ON o.order_id = a.order_id"
                                      " WHERE o.contract_id = ?1 ORDER BY a.log_index")));
  query.BindText(1, contract_id);
  return AllRows<AttestationRow>(query, AttestationFrom);
}

absl::StatusOr<AttestationRow> SqliteStore::GetAttestation(uint64_t log_index) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto not_found = [&] {
    return absl::NotFoundError(absl::StrCat("log index ", log_index, " is not in the log"));
  };
  if (log_index > kMaxIndex) return not_found();
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(), absl::StrCat(kSelectAttestations, " WHERE log_index = ?1")));
  query.BindInt64(1, static_cast<int64_t>(log_index));
  OFFBOARD_ASSIGN_OR_RETURN(const bool found, query.Step());
  if (!found) return not_found();
  return AttestationFrom(query);
}

absl::StatusOr<std::vector<std::string>> SqliteStore::AnsweredOrders(
    absl::string_view contract_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         // The store keeps one run and count per (order, agent), and
                         // an order has one agent: all parts are there when there
                         // are as many as the count.
                         "SELECT a.order_id FROM attestations a JOIN orders o"
                         " ON o.order_id = a.order_id WHERE o.contract_id = ?1"
                         " GROUP BY a.order_id, a.agent_id HAVING COUNT(*) = MAX(a.part_count)"
                         " ORDER BY a.order_id"));
  query.BindText(1, contract_id);
  return AllRows<std::string>(query, [](const Statement& row) { return row.Bytes(0); });
}

absl::StatusOr<AttestationRow> SqliteStore::AttestationFor(absl::string_view order_id,
                                                           absl::string_view agent_id,
                                                           uint32_t part_index) {
  std::lock_guard<std::mutex> lock(mutex_);
  return AttestationForLocked(order_id, agent_id, part_index);
}

absl::StatusOr<AttestationRow> SqliteStore::AttestationForLocked(absl::string_view order_id,
                                                                 absl::string_view agent_id,
                                                                 uint32_t part_index) {
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      statements_.Prepare(absl::StrCat(
          kSelectAttestations, " WHERE order_id = ?1 AND agent_id = ?2 AND part_index = ?3")));
  query.BindText(1, order_id);
  query.BindText(2, agent_id);
  query.BindInt64(3, part_index);
  OFFBOARD_ASSIGN_OR_RETURN(const bool found, query.Step());
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("no attestation of agent ", agent_id, " for order ", order_id,
                     part_index == 1 ? "" : absl::StrCat(" (part ", part_index, ")")));
  }
  return AttestationFrom(query);
}

absl::StatusOr<uint64_t> SqliteStore::LogSize() {
  std::lock_guard<std::mutex> lock(mutex_);
  return LogSizeLocked();
}

absl::StatusOr<uint64_t> SqliteStore::LogSizeLocked() {
  // Indexes are dense from 0, so the size is the largest plus one: one probe
  // of the key rather than a count of every row.
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      statements_.Prepare("SELECT COALESCE(MAX(log_index) + 1, 0) FROM attestations"));
  OFFBOARD_ASSIGN_OR_RETURN(const bool row, query.Step());
  return row ? static_cast<uint64_t>(query.Int64(0)) : 0;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::LeafHashes(uint64_t begin, uint64_t end) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(const uint64_t size, LogSizeLocked());
  if (begin > end || end > size) {
    return absl::OutOfRangeError(
        absl::StrCat("leaves [", begin, ", ", end, ") are not within the log of ", size));
  }
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT leaf_hash_hex FROM attestations"
                         " WHERE log_index >= ?1 AND log_index < ?2 ORDER BY log_index"));
  query.BindInt64(1, static_cast<int64_t>(begin)).BindInt64(2, static_cast<int64_t>(end));
  std::vector<std::string> hashes;
  hashes.reserve(static_cast<size_t>(end - begin));
  for (;;) {
    OFFBOARD_ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) return hashes;
    hashes.push_back(query.Bytes(0));
  }
}

absl::Status SqliteStore::PutTreeHead(const TreeHeadRow& head) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db_.get()));
  OFFBOARD_ASSIGN_OR_RETURN(const uint64_t size, LogSizeLocked());
  OFFBOARD_RETURN_IF_ERROR(PutTreeHeadLocked(head, size));
  return txn.Commit();
}

absl::Status SqliteStore::PutTreeHeadLocked(const TreeHeadRow& head, uint64_t log_size) {
  if (head.tree_size > log_size) {
    return absl::FailedPreconditionError(absl::StrCat("tree head for size ", head.tree_size,
                                                      " but the log holds ", log_size, " leaves"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement stored,
      statements_.Prepare("SELECT root_hash_hex FROM tree_heads WHERE tree_size = ?1"));
  stored.BindInt64(1, static_cast<int64_t>(head.tree_size));
  OFFBOARD_ASSIGN_OR_RETURN(const bool found, stored.Step());
  if (found) {
    if (stored.View(0) == head.root_hash_hex) return absl::OkStatus();
    // Two roots for one size would show different logs to different readers.
    return absl::FailedPreconditionError(
        absl::StrCat("tree head for size ", head.tree_size, " has root ", head.root_hash_hex,
                     " but the stored head has root ", stored.View(0)));
  }
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      statements_.Prepare("INSERT INTO tree_heads (tree_size, root_hash_hex, timestamp,"
                          " signed_envelope) VALUES (?1, ?2, ?3, ?4)"));
  insert.BindInt64(1, static_cast<int64_t>(head.tree_size))
      .BindText(2, head.root_hash_hex)
      .BindInt64(3, head.timestamp)
      .BindBlob(4, head.signed_envelope);
  return insert.Run();
}

absl::StatusOr<TreeHeadRow> SqliteStore::LatestTreeHead() {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT tree_size, root_hash_hex, timestamp, signed_envelope"
                         " FROM tree_heads ORDER BY tree_size DESC LIMIT 1"));
  OFFBOARD_ASSIGN_OR_RETURN(const bool found, query.Step());
  if (!found) return absl::NotFoundError("no tree head is stored yet");
  return TreeHeadFrom(query);
}

absl::StatusOr<std::vector<TreeHeadRow>> SqliteStore::TreeHeads() {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT tree_size, root_hash_hex, timestamp, signed_envelope"
                         " FROM tree_heads ORDER BY tree_size"));
  return AllRows<TreeHeadRow>(query, TreeHeadFrom);
}

absl::Status SqliteStore::PutRefusal(const RefusalRow& refusal) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert, Statement::Prepare(db_.get(),
                                           "INSERT INTO refusals (at, order_id, agent_id, reason)"
                                           " VALUES (?1, ?2, ?3, ?4)"));
  insert.BindInt64(1, refusal.at)
      .BindText(2, refusal.order_id)
      .BindText(3, refusal.agent_id)
      .BindText(4, refusal.reason);
  return insert.Run();
}

absl::StatusOr<std::vector<RefusalRow>> SqliteStore::RefusalsForContract(
    absl::string_view contract_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT r.at, r.order_id, r.agent_id, r.reason FROM refusals r"
                         " JOIN orders o ON o.order_id = r.order_id WHERE o.contract_id = ?1"
                         " ORDER BY r.at, r.id"));
  query.BindText(1, contract_id);
  return AllRows<RefusalRow>(query, [](const Statement& row) {
    return RefusalRow{row.Int64(0), row.Bytes(1), row.Bytes(2), row.Bytes(3)};
  });
}

absl::Status SqliteStore::PutSelfAttestation(const SelfAttestationRow& row) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db_.get(),
                         "INSERT INTO self_attestations (contract_id, officer_key_id, envelope,"
                         " accepted_at) VALUES (?1, ?2, ?3, ?4)"
                         " ON CONFLICT (contract_id, envelope) DO NOTHING"));
  insert.BindText(1, row.contract_id)
      .BindText(2, row.officer_key_id)
      .BindBlob(3, row.envelope)
      .BindInt64(4, row.accepted_at);
  return insert.Run();
}

absl::StatusOr<std::vector<SelfAttestationRow>> SqliteStore::SelfAttestationsForContract(
    absl::string_view contract_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT contract_id, officer_key_id, envelope, accepted_at"
                         " FROM self_attestations WHERE contract_id = ?1 ORDER BY id"));
  query.BindText(1, contract_id);
  return AllRows<SelfAttestationRow>(query, [](const Statement& row) {
    return SelfAttestationRow{row.Bytes(0), row.Bytes(1), row.Bytes(2), row.Int64(3)};
  });
}

absl::StatusOr<std::string> SqliteStore::IntegrityCheck() {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(Statement pages,
                            Statement::Prepare(db_.get(), "PRAGMA integrity_check"));
  OFFBOARD_ASSIGN_OR_RETURN(
      std::vector<std::string> problems,
      AllRows<std::string>(pages, [](const Statement& row) { return row.Bytes(0); }));
  if (problems != std::vector<std::string>{"ok"}) return absl::StrJoin(problems, "\n");
  // integrity_check does not look at foreign keys; a row written while they
  // were off (by hand, with another tool) would go unnoticed otherwise.
  OFFBOARD_ASSIGN_OR_RETURN(Statement keys,
                            Statement::Prepare(db_.get(), "PRAGMA foreign_key_check"));
  OFFBOARD_ASSIGN_OR_RETURN(problems, AllRows<std::string>(keys, [](const Statement& row) {
                              return absl::StrCat("foreign key violation: ", row.View(0), " row ",
                                                  row.Int64(1), " refers to a missing ",
                                                  row.View(2));
                            }));
  return problems.empty() ? "ok" : absl::StrJoin(problems, "\n");
}

}  // namespace offboard::controller
