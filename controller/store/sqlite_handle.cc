#include "controller/store/sqlite_handle.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace offboard::controller {
namespace {

absl::StatusCode CodeFor(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::StatusCode::kAlreadyExists;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_TRIGGER:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
      return absl::StatusCode::kInvalidArgument;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_CONSTRAINT:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

// SQLite binds a NULL pointer as SQL NULL; an empty view may have one.
const char* NonNull(absl::string_view bytes) { return bytes.data() != nullptr ? bytes.data() : ""; }

}  // namespace

absl::Status SqliteStatus(sqlite3* db, int rc, absl::string_view context) {
  const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  // The connection's message describes the latest failure on it, which is
  // `rc` when the caller asks right away (connections are never shared
  // between threads without the store's mutex).
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return absl::Status(CodeFor(rc), absl::StrCat(file != nullptr && *file ? file : "sqlite", ": ",
                                                context, ": ", message));
}

absl::Status ExecSql(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) return absl::OkStatus();
  // Name the statement by its start: migrations are long.
  const absl::string_view text = absl::StripLeadingAsciiWhitespace(sql);
  return SqliteStatus(db, sqlite3_extended_errcode(db), text.substr(0, text.find('\n')));
}

namespace {

// A statement the caller owns from here; nothing is left prepared on failure.
// `flags` as sqlite3_prepare_v3's (0 prepares as sqlite3_prepare_v2).
absl::StatusOr<sqlite3_stmt*> PrepareRaw(sqlite3* db, absl::string_view sql, unsigned flags) {
  sqlite3_stmt* raw = nullptr;
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return SqliteStatus(db, rc, absl::StrCat("prepare ", sql));
  }
  if (raw == nullptr) return absl::InternalError(absl::StrCat("empty SQL: ", sql));
  return raw;
}

}  // namespace

absl::StatusOr<Statement> Statement::Prepare(sqlite3* db, absl::string_view sql) {
  absl::StatusOr<sqlite3_stmt*> raw = PrepareRaw(db, sql, 0);
  if (!raw.ok()) return raw.status();
  return Statement(db, *raw);
}

void StatementRelease::operator()(sqlite3_stmt* statement) const {
  if (borrowed == nullptr) {
    sqlite3_finalize(statement);
    return;
  }
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  *borrowed = false;
}

StatementCache::~StatementCache() {
  for (auto& [sql, entry] : entries_) sqlite3_finalize(entry->statement);
}

absl::StatusOr<Statement> StatementCache::Prepare(absl::string_view sql) {
  auto found = entries_.find(sql);
  if (found != entries_.end()) {
    Entry& entry = *found->second;
    if (entry.borrowed) return Statement::Prepare(db_, sql);
    entry.borrowed = true;
    return Statement(db_, entry.statement, StatementRelease{&entry.borrowed});
  }
  absl::StatusOr<sqlite3_stmt*> raw = PrepareRaw(db_, sql, SQLITE_PREPARE_PERSISTENT);
  if (!raw.ok()) return raw.status();
  auto entry = std::make_unique<Entry>(Entry{.statement = *raw, .borrowed = true});
  bool* borrowed = &entry->borrowed;
  entries_.emplace(sql, std::move(entry));
  return Statement(db_, *raw, StatementRelease{borrowed});
}

void Statement::NoteBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = SqliteStatus(
        db_, rc, absl::StrCat("bind parameter ", index, " of ", sqlite3_sql(statement_.get())));
  }
}

Statement& Statement::BindText(int index, absl::string_view text) {
  NoteBind(sqlite3_bind_text64(statement_.get(), index, NonNull(text), text.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8),
           index);
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  NoteBind(
      sqlite3_bind_blob64(statement_.get(), index, NonNull(bytes), bytes.size(), SQLITE_TRANSIENT),
      index);
  return *this;
}

Statement& Statement::BindBlobNoCopy(int index, absl::string_view bytes) {
  NoteBind(
      sqlite3_bind_blob64(statement_.get(), index, NonNull(bytes), bytes.size(), SQLITE_STATIC),
      index);
  return *this;
}

Statement& Statement::BindInt64(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(statement_.get(), index, value), index);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  const int rc = sqlite3_step(statement_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, sqlite3_extended_errcode(db_), sqlite3_sql(statement_.get()));
}

absl::Status Statement::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

void Statement::Reset() {
  sqlite3_reset(statement_.get());
  sqlite3_clear_bindings(statement_.get());
  bind_status_ = absl::OkStatus();
}

absl::string_view Statement::View(int column) const {
  // Blob first, then its size: the order SQLite documents as safe.
  const void* data = sqlite3_column_blob(statement_.get(), column);
  const int size = sqlite3_column_bytes(statement_.get(), column);
  if (data == nullptr || size <= 0) return absl::string_view();
  return absl::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
}

int64_t Statement::Int64(int column) const {
  return sqlite3_column_int64(statement_.get(), column);
}

absl::StatusOr<Transaction> Transaction::BeginImmediate(sqlite3* db) {
  if (absl::Status begun = ExecSql(db, "BEGIN IMMEDIATE"); !begun.ok()) return begun;
  return Transaction(db);
}

absl::StatusOr<Transaction> Transaction::BeginRead(sqlite3* db) {
  if (absl::Status begun = ExecSql(db, "BEGIN DEFERRED"); !begun.ok()) return begun;
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  // Still inside a transaction: not committed, or COMMIT failed part way.
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

absl::Status Transaction::Commit() {
  if (db_ == nullptr) return absl::FailedPreconditionError("transaction already finished");
  absl::Status committed = ExecSql(db_, "COMMIT");
  if (committed.ok()) db_ = nullptr;
  return committed;
}

}  // namespace offboard::controller
