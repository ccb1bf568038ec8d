// Numbered schema migrations for the controller's SQLite database.
//
// Migration n (1-based) turns schema version n-1 into version n. The table
// schema_version holds one row per applied migration (version, applied_at),
// so the database's version is its largest version. Migrations are only ever
// appended: a released migration is never edited, because databases in the
// field have already run it.
//
//   OFFBOARD_RETURN_IF_ERROR(ApplyMigrations(db, ControllerMigrations()));
//
// Not thread-safe on one connection; several processes opening the same
// database at once are safe (each migration re-reads the version inside its
// own write transaction).
#ifndef OFFBOARD_CONTROLLER_STORE_MIGRATIONS_H_
#define OFFBOARD_CONTROLLER_STORE_MIGRATIONS_H_

#include <sqlite3.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace offboard::controller {

struct Migration {
  int64_t version;  // 1, 2, 3, ... in order, without gaps
  const char* sql;  // fixed DDL; may hold several statements
};

// The controller's migrations, oldest first. Their count is the schema
// version this build writes.
const std::vector<Migration>& ControllerMigrations();

// The database's schema version: 0 for a new database.
absl::StatusOr<int64_t> SchemaVersion(sqlite3* db);

// Creates schema_version if missing, then applies each migration newer than
// the database, each in its own transaction (a failed one leaves the
// database at the previous version). FAILED_PRECONDITION, naming the file and
// both versions, when the database is newer than `migrations` (written by a
// newer controller): it is left untouched. Returns the resulting version.
absl::StatusOr<int64_t> ApplyMigrations(sqlite3* db, const std::vector<Migration>& migrations);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_STORE_MIGRATIONS_H_
