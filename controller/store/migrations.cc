#include "controller/store/migrations.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "controller/store/sqlite_handle.h"

namespace offboard::controller {
namespace {

// Version 1: the whole controller schema. Notes on choices:
// - Tables keyed by text use WITHOUT ROWID, so the key is the only index and
//   a million inventory rows are stored once, in (contract, dataset, path)
//   order, which is the order reconciliation reads them in.
// - Envelopes and fingerprint JSON are BLOBs: exact bytes, NUL included.
// - The transparency log (attestations) is append-only; triggers refuse any
//   UPDATE or DELETE, so not even a bug in the controller can rewrite it.
// - inventory_files.size holds a uint64 cast to int64 (exact round trip).
constexpr const char kSchemaV1[] = R"sql(
CREATE TABLE enrollment_tokens (
  token_sha256_hex TEXT PRIMARY KEY NOT NULL CHECK (token_sha256_hex <> ''),
  vendor_id TEXT NOT NULL,
  host_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used INTEGER NOT NULL CHECK (used IN (0, 1))
) WITHOUT ROWID;

CREATE TABLE enrollments (
  agent_id TEXT PRIMARY KEY NOT NULL CHECK (agent_id <> ''),
  vendor_id TEXT NOT NULL,
  host_id TEXT NOT NULL,
  hostname TEXT NOT NULL,
  attestation_public_key_pem TEXT NOT NULL,
  attestation_key_id TEXT NOT NULL,
  client_certificate_pem TEXT NOT NULL,
  certificate_serial_hex TEXT NOT NULL,
  enrolled_at INTEGER NOT NULL,
  banned INTEGER NOT NULL CHECK (banned IN (0, 1)),
  banned_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX enrollments_by_vendor ON enrollments (vendor_id, agent_id);

CREATE TABLE inventory_files (
  contract_id TEXT NOT NULL CHECK (contract_id <> ''),
  dataset_id TEXT NOT NULL,
  path TEXT NOT NULL,
  vendor_id TEXT NOT NULL,
  classification TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (contract_id, dataset_id, path)
) WITHOUT ROWID;

CREATE TABLE fingerprint_sets (
  dataset_id TEXT PRIMARY KEY NOT NULL CHECK (dataset_id <> ''),
  json BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE orders (
  order_id TEXT PRIMARY KEY NOT NULL CHECK (order_id <> ''),
  contract_id TEXT NOT NULL,
  vendor_id TEXT NOT NULL,
  host_id TEXT NOT NULL,
  agent_id TEXT NOT NULL REFERENCES enrollments (agent_id),
  nonce_hex TEXT NOT NULL,
  policy_name TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  envelope BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX orders_by_contract ON orders (contract_id, issued_at, order_id);
CREATE INDEX orders_by_agent ON orders (agent_id, issued_at, order_id);

CREATE TABLE attestations (
  log_index INTEGER PRIMARY KEY NOT NULL CHECK (log_index >= 0),
  order_id TEXT NOT NULL REFERENCES orders (order_id),
  agent_id TEXT NOT NULL REFERENCES enrollments (agent_id),
  envelope BLOB NOT NULL,
  leaf_hash_hex TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  UNIQUE (order_id, agent_id)
);
CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;

CREATE TABLE tree_heads (
  tree_size INTEGER PRIMARY KEY NOT NULL CHECK (tree_size >= 0),
  root_hash_hex TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  signed_envelope BLOB NOT NULL
);

CREATE TABLE refusals (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  order_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX refusals_by_order ON refusals (order_id);

CREATE TABLE self_attestations (
  id INTEGER PRIMARY KEY,
  contract_id TEXT NOT NULL,
  officer_key_id TEXT NOT NULL,
  envelope BLOB NOT NULL,
  accepted_at INTEGER NOT NULL,
  UNIQUE (contract_id, envelope)
);
)sql";

// Attestations in parts (common/reconcile/attestation_parts.h): an order's
// attestation may be several leaves, one per part, so the table is rebuilt
// with the part's run id, index and count and unique per (order, agent,
// part). Rows from before are run "" part 1 of 1, which they are. Nothing
// refers to the table, so dropping it checks no foreign key; dropping does
// not fire its delete trigger, which is created again.
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE attestations_v2 (
  log_index INTEGER PRIMARY KEY NOT NULL CHECK (log_index >= 0),
  order_id TEXT NOT NULL REFERENCES orders (order_id),
  agent_id TEXT NOT NULL REFERENCES enrollments (agent_id),
  envelope BLOB NOT NULL,
  leaf_hash_hex TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  run_id TEXT NOT NULL,
  part_index INTEGER NOT NULL CHECK (part_index >= 1),
  part_count INTEGER NOT NULL CHECK (part_count >= part_index),
  UNIQUE (order_id, agent_id, part_index)
);
INSERT INTO attestations_v2 (log_index, order_id, agent_id, envelope, leaf_hash_hex, accepted_at,
                             run_id, part_index, part_count)
  SELECT log_index, order_id, agent_id, envelope, leaf_hash_hex, accepted_at, '', 1, 1
  FROM attestations;
DROP TABLE attestations;
ALTER TABLE attestations_v2 RENAME TO attestations;
CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
)sql";

absl::Status Bootstrap(sqlite3* db) {
  return ExecSql(db,
                 "CREATE TABLE IF NOT EXISTS schema_version ("
                 " version INTEGER PRIMARY KEY NOT NULL,"
                 " applied_at INTEGER NOT NULL)");
}

absl::Status TooNew(sqlite3* db, int64_t found, int64_t known) {
  return absl::FailedPreconditionError(
      absl::StrCat(sqlite3_db_filename(db, "main"), ": database schema version ", found,
                   " is newer than this controller's (", known,
                   "); it was written by a newer offboard-controller"));
}

}  // namespace

const std::vector<Migration>& ControllerMigrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, kSchemaV1},
      {2, kSchemaV2},
  };
  return *kMigrations;
}

absl::StatusOr<int64_t> SchemaVersion(sqlite3* db) {
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement exists,
      Statement::Prepare(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1"));
  exists.BindText(1, "schema_version");
  OFFBOARD_ASSIGN_OR_RETURN(const bool has_table, exists.Step());
  if (!has_table) return 0;
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  OFFBOARD_ASSIGN_OR_RETURN(const bool row, query.Step());
  return row ? query.Int64(0) : 0;
}

absl::StatusOr<int64_t> ApplyMigrations(sqlite3* db, const std::vector<Migration>& migrations) {
  const auto known = static_cast<int64_t>(migrations.size());
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i) + 1) {
      return absl::InternalError(
          absl::StrCat("migration ", i + 1, " is numbered ", migrations[i].version));
    }
  }
  // Refuse a newer database before writing anything to it.
  OFFBOARD_ASSIGN_OR_RETURN(int64_t version, SchemaVersion(db));
  if (version > known) return TooNew(db, version, known);
  if (version == known) return version;

  {
    OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db));
    OFFBOARD_RETURN_IF_ERROR(Bootstrap(db));
    OFFBOARD_RETURN_IF_ERROR(txn.Commit());
  }
  for (;;) {
    OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db));
    // Read again under the write lock: another process may have migrated.
    OFFBOARD_ASSIGN_OR_RETURN(version, SchemaVersion(db));
    if (version > known) return TooNew(db, version, known);
    if (version == known) return version;
    const Migration& next = migrations[static_cast<size_t>(version)];
    if (absl::Status applied = ExecSql(db, next.sql); !applied.ok()) {
      return absl::Status(applied.code(),
                          absl::StrCat("migration ", next.version, ": ", applied.message()));
    }
    OFFBOARD_ASSIGN_OR_RETURN(
        Statement record,
        Statement::Prepare(db,
                           "INSERT INTO schema_version (version, applied_at)"
                           " VALUES (?1, CAST(strftime('%s', 'now') AS INTEGER))"));
    record.BindInt64(1, next.version);
    OFFBOARD_RETURN_IF_ERROR(record.Run());
    OFFBOARD_RETURN_IF_ERROR(txn.Commit());
  }
}

}  // namespace offboard::controller
