// SqliteStore: opening, enrollment and inventory. Orders, the log and the
// rest are in sqlite_store_log.cc.
#include "controller/store/sqlite_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/io/unique_fd.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::controller {
namespace {

enum class Access { kReadWrite, kReadOnly };

// Opens a connection to an existing database file with Offboard's settings.
absl::StatusOr<SqliteDb> OpenConnection(const boost::filesystem::path& path, Access access) {
  sqlite3* raw = nullptr;
  const int flags = (access == Access::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);  // owns the handle also when the open failed
  if (rc != SQLITE_OK) {
    const absl::Status status = SqliteStatus(raw, rc, "open");
    return absl::Status(
        status.code(), absl::StrCat(path.string(), ": cannot open database: ", sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), kSqliteBusyTimeoutMs);
  if (access == Access::kReadOnly) return db;

  // Pages of 16 KiB for a new database (an existing one keeps its size):
  // attestation envelopes are blobs of some hundred kilobytes, and each page
  // is one frame written to the WAL and copied back at checkpoint.
  OFFBOARD_RETURN_IF_ERROR(ExecSql(db.get(), "PRAGMA page_size=16384"));
  // The first statement reads the header: a file that is not a database
  // fails here with DATA_LOSS naming it.
  OFFBOARD_ASSIGN_OR_RETURN(Statement wal, Statement::Prepare(db.get(), "PRAGMA journal_mode=WAL"));
  OFFBOARD_ASSIGN_OR_RETURN(const bool row, wal.Step());
  if (!row || wal.View(0) != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat(path.string(), ": cannot switch the database to WAL mode (got '",
                     row ? wal.View(0) : "", "'); is it on a filesystem without shared memory?"));
  }
  OFFBOARD_RETURN_IF_ERROR(ExecSql(db.get(), "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"));
  return db;
}

// Copies into `out`, keeping its capacity (absl::string_view is not
// std::string_view here, so std::string::assign does not take it).
void Assign(absl::string_view bytes, std::string& out) { out.assign(bytes.data(), bytes.size()); }

// Column order of every enrollment SELECT below.
Enrollment EnrollmentFrom(const Statement& row) {
  Enrollment e;
  e.agent_id = row.Bytes(0);
  e.vendor_id = row.Bytes(1);
  e.host_id = row.Bytes(2);
  e.hostname = row.Bytes(3);
  e.attestation_public_key_pem = row.Bytes(4);
  e.attestation_key_id = row.Bytes(5);
  e.client_certificate_pem = row.Bytes(6);
  e.certificate_serial_hex = row.Bytes(7);
  e.enrolled_at = row.Int64(8);
  e.banned = row.Int64(9) != 0;
  e.banned_at = row.Int64(10);
  return e;
}

// What differs between a stored inventory row and a new one, or empty.
std::string InventoryDifference(const Statement& stored, const InventoryFileRow& file) {
  std::vector<std::string> differences;
  const auto compare = [&](absl::string_view field, absl::string_view before,
                           absl::string_view after) {
    if (before != after) {
      differences.push_back(absl::StrCat(field, " '", before, "' (stored) vs '", after, "'"));
    }
  };
  compare("vendor_id", stored.View(0), file.vendor_id);
  compare("classification", stored.View(1), file.classification);
  compare("size", absl::StrCat(static_cast<uint64_t>(stored.Int64(2))), absl::StrCat(file.size));
  compare("sha256", stored.View(3), file.sha256);
  return absl::StrJoin(differences, ", ");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControllerStore>> OpenSqliteStore(
    const boost::filesystem::path& path) {
  return OpenSqliteStore(path, ControllerMigrations());
}

absl::StatusOr<std::unique_ptr<ControllerStore>> OpenSqliteStore(
    const boost::filesystem::path& path, const std::vector<Migration>& migrations) {
  // Create the file ourselves: SQLite would use 0644 less the umask, and the
  // database holds certificates and the inventory. The descriptor is closed
  // before SQLite opens the file: closing any descriptor of a file drops all
  // of this process's POSIX locks on it, SQLite's included, and another
  // process would then take the database for unused and delete the WAL.
  {
    const common::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return common::ErrnoToStatus(errno, path.string());
  }
  OFFBOARD_ASSIGN_OR_RETURN(SqliteDb db, OpenConnection(path, Access::kReadWrite));
  OFFBOARD_RETURN_IF_ERROR(ApplyMigrations(db.get(), migrations).status());
  OFFBOARD_ASSIGN_OR_RETURN(SqliteDb reader, OpenConnection(path, Access::kReadOnly));
  OFFBOARD_ASSIGN_OR_RETURN(SqliteDb checkpointer, OpenConnection(path, Access::kReadWrite));
  return std::make_unique<SqliteStore>(path, std::move(db), std::move(reader),
                                       std::move(checkpointer));
}

absl::Status SqliteStore::PutToken(const EnrollmentToken& token) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db_.get(),
                         "INSERT INTO enrollment_tokens (token_sha256_hex, vendor_id, host_id,"
                         " created_at, expires_at, used) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  insert.BindText(1, token.token_sha256_hex)
      .BindText(2, token.vendor_id)
      .BindText(3, token.host_id)
      .BindInt64(4, token.created_at)
      .BindInt64(5, token.expires_at)
      .BindInt64(6, token.used ? 1 : 0);
  return insert.Run();
}

absl::StatusOr<Enrollment> SqliteStore::ConsumeTokenAndEnroll(absl::string_view token_sha256_hex,
                                                              int64_t now, Enrollment enrollment,
                                                              const CompleteEnrollment& complete) {
  std::lock_guard<std::mutex> lock(mutex_);
  sqlite3* db = db_.get();
  OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db));
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement token,
      Statement::Prepare(db,
                         "SELECT vendor_id, host_id, expires_at, used FROM enrollment_tokens"
                         " WHERE token_sha256_hex = ?1"));
  token.BindText(1, token_sha256_hex);
  OFFBOARD_ASSIGN_OR_RETURN(const bool found, token.Step());
  // One answer for all three cases: a caller must not learn which exist.
  if (!found || token.Int64(3) != 0 || now >= token.Int64(2)) {
    return absl::PermissionDeniedError("enrollment token unknown, used or expired");
  }
  enrollment.vendor_id = token.Bytes(0);
  enrollment.host_id = token.Bytes(1);
  if (complete) OFFBOARD_RETURN_IF_ERROR(complete(enrollment));

  OFFBOARD_ASSIGN_OR_RETURN(Statement use,
                            Statement::Prepare(db,
                                               "UPDATE enrollment_tokens SET used = 1"
                                               " WHERE token_sha256_hex = ?1"));
  use.BindText(1, token_sha256_hex);
  OFFBOARD_RETURN_IF_ERROR(use.Run());

  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db,
                         "INSERT INTO enrollments (agent_id, vendor_id, host_id, hostname,"
                         " attestation_public_key_pem, attestation_key_id, client_certificate_pem,"
                         " certificate_serial_hex, enrolled_at, banned, banned_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  insert.BindText(1, enrollment.agent_id)
      .BindText(2, enrollment.vendor_id)
      .BindText(3, enrollment.host_id)
      .BindText(4, enrollment.hostname)
      .BindText(5, enrollment.attestation_public_key_pem)
      .BindText(6, enrollment.attestation_key_id)
      .BindText(7, enrollment.client_certificate_pem)
      .BindText(8, enrollment.certificate_serial_hex)
      .BindInt64(9, enrollment.enrolled_at)
      .BindInt64(10, enrollment.banned ? 1 : 0)
      .BindInt64(11, enrollment.banned_at);
  if (absl::Status inserted = insert.Run(); !inserted.ok()) {
    if (inserted.code() != absl::StatusCode::kAlreadyExists) return inserted;
    return absl::AlreadyExistsError(
        absl::StrCat("agent ", enrollment.agent_id, " is already enrolled"));
  }
  OFFBOARD_RETURN_IF_ERROR(txn.Commit());
  return enrollment;
}

absl::StatusOr<Enrollment> SqliteStore::GetEnrollment(absl::string_view agent_id) {
  std::lock_guard<std::mutex> lock(reader_mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      reader_statements_.Prepare(
          "SELECT agent_id, vendor_id, host_id, hostname, attestation_public_key_pem,"
          " attestation_key_id, client_certificate_pem, certificate_serial_hex,"
          " enrolled_at, banned, banned_at FROM enrollments WHERE agent_id = ?1"));
  query.BindText(1, agent_id);
  OFFBOARD_ASSIGN_OR_RETURN(const bool found, query.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("agent ", agent_id, " is not enrolled"));
  return EnrollmentFrom(query);
}

absl::StatusOr<std::vector<Enrollment>> SqliteStore::ListEnrollments(absl::string_view vendor_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(
          db_.get(),
          "SELECT agent_id, vendor_id, host_id, hostname, attestation_public_key_pem,"
          " attestation_key_id, client_certificate_pem, certificate_serial_hex,"
          " enrolled_at, banned, banned_at FROM enrollments"
          " WHERE ?1 = '' OR vendor_id = ?1 ORDER BY agent_id"));
  query.BindText(1, vendor_id);
  return AllRows<Enrollment>(query, EnrollmentFrom);
}

absl::Status SqliteStore::BanAgent(absl::string_view agent_id, int64_t at) {
  std::lock_guard<std::mutex> lock(mutex_);
  // The ban takes effect when it commits: an attestation of the agent the
  // log committed before it was accepted before the ban, whatever the two
  // callers' clocks said (AppendLocked refuses any after it).
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement ban,
      Statement::Prepare(db_.get(),
                         "UPDATE enrollments SET banned_at = CASE banned WHEN 1 THEN banned_at"
                         " ELSE MAX(?2, COALESCE((SELECT MAX(a.accepted_at) FROM orders o"
                         " JOIN attestations a ON a.order_id = o.order_id AND a.agent_id = ?1"
                         " WHERE o.agent_id = ?1), ?2)) END, banned = 1 WHERE agent_id = ?1"));
  ban.BindText(1, agent_id).BindInt64(2, at);
  OFFBOARD_RETURN_IF_ERROR(ban.Run());
  if (sqlite3_changes64(db_.get()) == 0) {
    return absl::NotFoundError(absl::StrCat("agent ", agent_id, " is not enrolled"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ControllerStore::ImportCounts> SqliteStore::ImportInventory(
    const std::vector<InventoryFileRow>& files,
    const std::vector<FingerprintSetRow>& fingerprints) {
  std::lock_guard<std::mutex> lock(mutex_);
  sqlite3* db = db_.get();
  OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db));
  ImportCounts counts;

  // Insert, and only when the key is taken compare with what is stored: new
  // rows (the common case) cost one statement each.
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(db,
                         "INSERT INTO inventory_files (contract_id, dataset_id, path, vendor_id,"
                         " classification, size, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                         " ON CONFLICT DO NOTHING"));
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement stored,
      Statement::Prepare(db,
                         "SELECT vendor_id, classification, size, sha256 FROM inventory_files"
                         " WHERE contract_id = ?1 AND dataset_id = ?2 AND path = ?3"));
  for (const InventoryFileRow& file : files) {
    insert.Reset();
    insert.BindText(1, file.contract_id)
        .BindText(2, file.dataset_id)
        .BindText(3, file.path)
        .BindText(4, file.vendor_id)
        .BindText(5, file.classification)
        .BindInt64(6, static_cast<int64_t>(file.size))
        .BindText(7, file.sha256);
    OFFBOARD_RETURN_IF_ERROR(insert.Run());
    if (sqlite3_changes64(db) == 1) {
      ++counts.files_added;
      continue;
    }
    stored.Reset();
    stored.BindText(1, file.contract_id).BindText(2, file.dataset_id).BindText(3, file.path);
    OFFBOARD_ASSIGN_OR_RETURN(const bool found, stored.Step());
    if (!found) return absl::InternalError("inventory row neither inserted nor found");
    if (std::string difference = InventoryDifference(stored, file); !difference.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "inventory row (contract ", file.contract_id, ", dataset ", file.dataset_id, ", path ",
          file.path, ") conflicts with the stored one: ", difference, "; nothing was imported"));
    }
    ++counts.files_unchanged;
  }

  OFFBOARD_ASSIGN_OR_RETURN(Statement insert_set,
                            Statement::Prepare(db,
                                               "INSERT INTO fingerprint_sets (dataset_id, json)"
                                               " VALUES (?1, ?2) ON CONFLICT DO NOTHING"));
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement stored_set,
      Statement::Prepare(db, "SELECT json FROM fingerprint_sets WHERE dataset_id = ?1"));
  for (const FingerprintSetRow& set : fingerprints) {
    insert_set.Reset();
    insert_set.BindText(1, set.dataset_id).BindBlob(2, set.json);
    OFFBOARD_RETURN_IF_ERROR(insert_set.Run());
    if (sqlite3_changes64(db) == 1) {
      ++counts.fingerprint_sets_added;
      continue;
    }
    stored_set.Reset();
    stored_set.BindText(1, set.dataset_id);
    OFFBOARD_ASSIGN_OR_RETURN(const bool found, stored_set.Step());
    if (!found || stored_set.View(0) != set.json) {
      return absl::FailedPreconditionError(
          absl::StrCat("fingerprint set of dataset ", set.dataset_id,
                       " differs from the stored one; nothing was imported"));
    }
  }
  OFFBOARD_RETURN_IF_ERROR(txn.Commit());
  return counts;
}

absl::Status SqliteStore::ForEachInventoryFile(
    absl::string_view contract_id, const std::function<absl::Status(const InventoryFileRow&)>& fn) {
  // A connection of its own (see sqlite_store.h): no mutex_ needed.
  OFFBOARD_ASSIGN_OR_RETURN(SqliteDb reader, OpenConnection(path_, Access::kReadOnly));
  OFFBOARD_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(reader.get()));
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(reader.get(),
                         "SELECT contract_id, vendor_id, dataset_id, classification, path, size,"
                         " sha256 FROM inventory_files WHERE contract_id = ?1"
                         " ORDER BY dataset_id, path"));
  query.BindText(1, contract_id);
  InventoryFileRow file;  // reused, so its strings keep their capacity
  for (;;) {
    OFFBOARD_ASSIGN_OR_RETURN(const bool row, query.Step());
    if (!row) return absl::OkStatus();
    Assign(query.View(0), file.contract_id);
    Assign(query.View(1), file.vendor_id);
    Assign(query.View(2), file.dataset_id);
    Assign(query.View(3), file.classification);
    Assign(query.View(4), file.path);
    file.size = static_cast<uint64_t>(query.Int64(5));
    Assign(query.View(6), file.sha256);
    OFFBOARD_RETURN_IF_ERROR(fn(file));
  }
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ContractIds() {
  std::lock_guard<std::mutex> lock(mutex_);
  // Jumps from one contract to the next through the primary key instead of
  // reading every row (a million rows per contract are expected).
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "WITH RECURSIVE c(id) AS ("
                         " SELECT MIN(contract_id) FROM inventory_files"
                         " UNION ALL SELECT (SELECT MIN(contract_id) FROM inventory_files"
                         " WHERE contract_id > c.id) FROM c WHERE c.id IS NOT NULL)"
                         " SELECT id FROM c WHERE id IS NOT NULL"));
  return AllRows<std::string>(query, [](const Statement& row) { return row.Bytes(0); });
}

absl::StatusOr<std::vector<FingerprintSetRow>> SqliteStore::FingerprintSetsForContract(
    absl::string_view contract_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Few sets, many rows: probe the key once per set.
  OFFBOARD_ASSIGN_OR_RETURN(
      Statement query,
      Statement::Prepare(db_.get(),
                         "SELECT f.dataset_id, f.json FROM fingerprint_sets f WHERE EXISTS"
                         " (SELECT 1 FROM inventory_files i WHERE i.contract_id = ?1"
                         " AND i.dataset_id = f.dataset_id) ORDER BY f.dataset_id"));
  query.BindText(1, contract_id);
  return AllRows<FingerprintSetRow>(query, [](const Statement& row) {
    return FingerprintSetRow{row.Bytes(0), row.Bytes(1)};
  });
}

}  // namespace offboard::controller
