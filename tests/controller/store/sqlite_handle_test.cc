// The statement cache of a connection: one prepared statement per SQL text,
// lent and given back reset, a second one while the first is out, and
// nothing left prepared once the cache is gone.
#include "controller/store/sqlite_handle.h"

#include <gtest/gtest.h>

namespace offboard::controller {
namespace {

SqliteDb MemoryDb() {
  sqlite3* raw = nullptr;
  EXPECT_EQ(sqlite3_open(":memory:", &raw), SQLITE_OK);
  SqliteDb db(raw);
  EXPECT_TRUE(
      ExecSql(db.get(), "CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3);").ok());
  return db;
}

// Statements prepared on `db` and not finalized.
int LiveStatements(sqlite3* db) {
  int count = 0;
  for (sqlite3_stmt* s = sqlite3_next_stmt(db, nullptr); s != nullptr;
       s = sqlite3_next_stmt(db, s)) {
    ++count;
  }
  return count;
}

constexpr absl::string_view kAbove = "SELECT n FROM t WHERE n > ?1 ORDER BY n";

TEST(StatementCacheTest, LendsTheSameStatementAgainResetAndUnbound) {
  SqliteDb db = MemoryDb();
  StatementCache cache(db.get());
  sqlite3_stmt* first = nullptr;
  {
    absl::StatusOr<Statement> query = cache.Prepare(kAbove);
    ASSERT_TRUE(query.ok()) << query.status();
    first = query->get();
    query->BindInt64(1, 1);
    ASSERT_TRUE(*query->Step());
    EXPECT_EQ(query->Int64(0), 2);
    // Given back in the middle of its rows.
  }
  absl::StatusOr<Statement> again = cache.Prepare(kAbove);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->get(), first);
  // Its binding was cleared: n > NULL holds for no row.
  EXPECT_FALSE(*again->Step());
  again->Reset();
  again->BindInt64(1, 0);
  ASSERT_TRUE(*again->Step());
  EXPECT_EQ(again->Int64(0), 1);  // from the first row again
  EXPECT_EQ(LiveStatements(db.get()), 1);
}

TEST(StatementCacheTest, ATextStillLentGetsAStatementOfItsOwn) {
  SqliteDb db = MemoryDb();
  StatementCache cache(db.get());
  absl::StatusOr<Statement> outer = cache.Prepare(kAbove);
  ASSERT_TRUE(outer.ok()) << outer.status();
  outer->BindInt64(1, 0);
  int pairs = 0;
  while (*outer->Step()) {
    absl::StatusOr<Statement> inner = cache.Prepare(kAbove);
    ASSERT_TRUE(inner.ok()) << inner.status();
    EXPECT_NE(inner->get(), outer->get());
    inner->BindInt64(1, outer->Int64(0));
    while (*inner->Step()) ++pairs;
  }
  EXPECT_EQ(pairs, 3);  // (1,2) (1,3) (2,3)
  // The inner ones were the callers' own and are finalized; the cached one stays.
  EXPECT_EQ(LiveStatements(db.get()), 1);
}

TEST(StatementCacheTest, SqlThatDoesNotPrepareIsAnErrorEachTime) {
  SqliteDb db = MemoryDb();
  StatementCache cache(db.get());
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<Statement> bad = cache.Prepare("SELECT nothing FROM nowhere");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("SELECT nothing FROM nowhere"), absl::string_view::npos)
        << bad.status();
  }
  EXPECT_EQ(LiveStatements(db.get()), 0);
}

TEST(StatementCacheTest, FinalizesEveryStatementWhenDestroyed) {
  SqliteDb db = MemoryDb();
  {
    StatementCache cache(db.get());
    ASSERT_TRUE(cache.Prepare(kAbove).ok());
    ASSERT_TRUE(cache.Prepare("SELECT COUNT(*) FROM t").ok());
    EXPECT_EQ(LiveStatements(db.get()), 2);
  }
  EXPECT_EQ(LiveStatements(db.get()), 0);
  // The connection closes cleanly, with nothing left to finalize.
  EXPECT_EQ(sqlite3_close(db.release()), SQLITE_OK);
}

}  // namespace
}  // namespace offboard::controller
