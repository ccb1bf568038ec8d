// Owned SQLite handles for the controller store: a connection, a prepared
// statement with bound parameters, and a transaction that rolls back unless
// committed. Every sqlite3* and sqlite3_stmt* in Offboard is held by one of
// these, so no error path frees by hand, and every value reaches SQL through a
// bound parameter, never through string-built SQL.
//
//   OFFBOARD_ASSIGN_OR_RETURN(Transaction txn, Transaction::BeginImmediate(db));
//   OFFBOARD_ASSIGN_OR_RETURN(Statement insert,
//                             Statement::Prepare(db, "INSERT INTO t(a, b) VALUES (?1, ?2)"));
//   insert.BindText(1, a).BindBlob(2, bytes);
//   OFFBOARD_RETURN_IF_ERROR(insert.Run());
//   OFFBOARD_RETURN_IF_ERROR(txn.Commit());
//
// Errors carry a canonical code (see SqliteStatus) and name the database
// file. Not thread-safe: a connection and its statements belong to one thread
// at a time (the store serializes them with a mutex).
#ifndef OFFBOARD_CONTROLLER_STORE_SQLITE_HANDLE_H_
#define OFFBOARD_CONTROLLER_STORE_SQLITE_HANDLE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::controller {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;

// Finalizes a statement of its own; a statement borrowed from a
// StatementCache goes back to it instead, reset and with its bindings
// cleared.
struct StatementRelease {
  bool* borrowed = nullptr;  // the cache's flag, or null when owned
  void operator()(sqlite3_stmt* statement) const;
};

// The status for SQLite result code `rc` (an extended code) on `db`:
// "<database file>: <context>: <sqlite message>". UNIQUE and PRIMARY KEY
// constraints -> ALREADY_EXISTS, FOREIGN KEY and trigger aborts ->
// FAILED_PRECONDITION, NOT NULL and CHECK -> INVALID_ARGUMENT, BUSY and
// LOCKED -> UNAVAILABLE, CORRUPT and NOTADB -> DATA_LOSS, FULL ->
// RESOURCE_EXHAUSTED, READONLY and PERM -> PERMISSION_DENIED, else INTERNAL.
absl::Status SqliteStatus(sqlite3* db, int rc, absl::string_view context);

// Runs SQL without parameters or results (pragmas, DDL, transaction control);
// `sql` may hold several statements. Only for fixed SQL text.
absl::Status ExecSql(sqlite3* db, const char* sql);

// A prepared statement. Bind* record the first failure, which Step() and
// Run() return, so that a call site binds in one expression. Move-only.
class Statement {
 public:
  // Fails (INTERNAL) only on SQL that does not fit the schema: a bug.
  static absl::StatusOr<Statement> Prepare(sqlite3* db, absl::string_view sql);

  // Parameters are 1-based. Text and blobs are copied, so the arguments need
  // not outlive the call. An empty view binds an empty value, never NULL.
  Statement& BindText(int index, absl::string_view text);
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindInt64(int index, int64_t value);
  // Binds `bytes` without a copy, for large values: they must stay valid
  // until the statement is reset, rebound or destroyed.
  Statement& BindBlobNoCopy(int index, absl::string_view bytes);

  // True when a row is ready, false when the statement is done.
  absl::StatusOr<bool> Step();
  // Steps to the end, ignoring any rows.
  absl::Status Run();
  // Makes the statement ready to run again with new bindings.
  void Reset();

  // Columns of the current row, 0-based. Text and blobs come back as exact
  // bytes; NULL reads as empty or 0.
  std::string Bytes(int column) const { return std::string(View(column)); }
  // The same without a copy, valid until the next Step() or Reset().
  absl::string_view View(int column) const;
  int64_t Int64(int column) const;

  sqlite3_stmt* get() const { return statement_.get(); }

 private:
  friend class StatementCache;
  Statement(sqlite3* db, sqlite3_stmt* statement, StatementRelease release = {})
      : db_(db), statement_(statement, release) {}
  void NoteBind(int rc, int index);

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StatementRelease> statement_;
  absl::Status bind_status_;
};

// The prepared statements of one connection, kept for reuse: the attestation
// path runs the same few statements for every attestation, and parsing their
// SQL each time was a tenth of the intake's CPU under load. Prepare() lends
// the cached statement of that text; it comes back when the Statement is
// destroyed. Asked for a text whose statement is still lent (a query inside
// a loop over the same query), it prepares one of the caller's own.
//
// Guarded like its connection: used by one thread at a time, and every lent
// Statement destroyed before that thread lets go of the connection and
// before the cache itself is destroyed. Declare it after its connection, so
// that it finalizes its statements before the connection closes.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  ~StatementCache();

  absl::StatusOr<Statement> Prepare(absl::string_view sql);

 private:
  struct Entry {
    sqlite3_stmt* statement = nullptr;
    bool borrowed = false;
  };
  sqlite3* db_;
  // Entries are boxed: a lent Statement points at its entry's flag.
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> entries_;
};

// A transaction on `db`: BEGIN IMMEDIATE, so a writer takes the write lock
// up front instead of failing on upgrade. Rolled back when destroyed without
// a successful Commit(). Move-only.
class Transaction {
 public:
  static absl::StatusOr<Transaction> BeginImmediate(sqlite3* db);
  // A read transaction: a consistent snapshot from the first read on.
  static absl::StatusOr<Transaction> BeginRead(sqlite3* db);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // COMMIT. With synchronous=FULL the changes are durable when this returns
  // OK; on failure the destructor rolls back whatever is left.
  absl::Status Commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// Steps `query` to its end, turning each row into a T with `row_to`.
template <typename T, typename RowTo>
absl::StatusOr<std::vector<T>> AllRows(Statement& query, RowTo row_to) {
  std::vector<T> rows;
  for (;;) {
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row) return rows;
    rows.push_back(row_to(query));
  }
}

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_STORE_SQLITE_HANDLE_H_
