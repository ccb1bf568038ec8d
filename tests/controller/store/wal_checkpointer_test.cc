// The WAL checkpointer on a real database file: its thread keeps the WAL
// short while commits go on, and when it cannot, the commit that reaches the
// bound checkpoints itself, so the WAL never grows without end.
#include "controller/store/wal_checkpointer.h"

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <climits>
#include <string>

#include "tests/controller/store/sqlite_store_fixtures.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

using ::offboard::testing::TempDir;

constexpr int kPageBytes = 4096;
constexpr int kFrameBytes = kPageBytes + 24;  // a WAL frame: header and page
constexpr int kCommits = 200;
const std::string kRow(4 * kPageBytes, 'r');  // five frames or so per commit

SqliteDb WalConnection(const boost::filesystem::path& path) {
  sqlite3* raw = nullptr;
  EXPECT_EQ(
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
      SQLITE_OK);
  SqliteDb db(raw);
  EXPECT_TRUE(ExecSql(db.get(),
                      "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;"
                      " PRAGMA synchronous=FULL")
                  .ok());
  return db;
}

// A database with one table of blobs, its writer, and a checkpointer on it.
class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ExecSql(writer_.get(), "CREATE TABLE t (b BLOB)").ok()); }

  std::unique_ptr<WalCheckpointer> Start(WalCheckpointLimits limits) {
    return WalCheckpointer::Start(writer_.get(), WalConnection(path_), limits);
  }

  void Commit() {
    absl::StatusOr<Statement> insert =
        Statement::Prepare(writer_.get(), "INSERT INTO t (b) VALUES (?1)");
    ASSERT_TRUE(insert.ok()) << insert.status();
    insert->BindBlob(1, kRow);
    ASSERT_TRUE(insert->Run().ok());
  }

  uintmax_t WalBytes() const { return boost::filesystem::file_size(path_.string() + "-wal"); }

  TempDir dir_;
  const boost::filesystem::path path_ = dir_.path() / "wal.db";
  SqliteDb writer_ = WalConnection(path_);
};

TEST_F(WalCheckpointerTest, ItsThreadKeepsTheWalShortAndCommitsNeverCheckpoint) {
  const auto checkpointer = Start({.wake_pages = 16, .bound_pages = INT_MAX});
  for (int i = 0; i < kCommits; ++i) {
    Commit();
    if (i % 20 == 19) {
      // A pause such as the intake's between batches lets a checkpoint reach
      // the WAL's end; the next commit then starts the WAL over.
      checkpointer->WaitUntilIdle();
    }
  }
  EXPECT_GE(checkpointer->background_checkpoints(), 10u);
  EXPECT_EQ(checkpointer->inline_checkpoints(), 0u);
  // Twenty commits at most; without checkpoints the WAL would hold all 200,
  // over 1,000 frames.
  EXPECT_LT(WalBytes(), 200u * kFrameBytes);
  // What was checkpointed is in the database file itself.
  EXPECT_GT(boost::filesystem::file_size(path_), uintmax_t{kCommits / 2} * kRow.size());
}

TEST_F(WalCheckpointerTest, ACommitAtTheBoundCheckpointsWhenTheThreadDoesNot) {
  const auto checkpointer = Start({.wake_pages = INT_MAX, .bound_pages = 40});
  for (int i = 0; i < kCommits; ++i) Commit();
  EXPECT_EQ(checkpointer->background_checkpoints(), 0u);
  EXPECT_GE(checkpointer->inline_checkpoints(), 10u);
  // The bound and one commit past it.
  EXPECT_LE(WalBytes(), uintmax_t{40 + 10} * kFrameBytes + 32);
}

TEST_F(WalCheckpointerTest, StopsCleanlyAndHandsTheWalBackToSqlite) {
  ASSERT_TRUE(ExecSql(writer_.get(), "PRAGMA wal_autocheckpoint=300").ok());
  {
    const auto checkpointer = Start({.wake_pages = INT_MAX, .bound_pages = INT_MAX});
    Commit();
  }
  // Its hook is gone and SQLite's automatic checkpoint is back, at the
  // connection's own threshold: commits go on and the WAL stays within it.
  EXPECT_EQ(QueryInt(writer_.get(), "PRAGMA wal_autocheckpoint"), 300);
  for (int i = 0; i < 400; ++i) Commit();
  EXPECT_EQ(QueryInt(writer_.get(), "SELECT COUNT(*) FROM t"), 401);
  EXPECT_LE(WalBytes(), uintmax_t{300 + 10} * kFrameBytes + 32);
}

}  // namespace
}  // namespace offboard::controller
