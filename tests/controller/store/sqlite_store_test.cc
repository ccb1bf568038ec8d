// Opening and migrating the SQLite store, enrollment and the inventory, on
// real database files (WAL needs them).
#include "controller/store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/controller/store/sqlite_store_fixtures.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

using ::offboard::testing::TempDir;

// --- Opening and migrations ---

TEST(SqliteStoreTest, CreatesTheSchemaAtTheLatestVersionAndReopeningChangesNothing) {
  TempDir dir;
  const auto path = dir.path() / "controller.db";
  {
    const auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(ModeOf(path), 0600u);
    EXPECT_EQ(ModeOf(path.string() + "-wal"), 0600u);  // SQLite copies the mode
  }

  const auto latest = static_cast<int64_t>(ControllerMigrations().size());
  const SqliteDb raw = RawConnection(path);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT MAX(version) FROM schema_version"), latest);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM schema_version"), latest);
  absl::StatusOr<Statement> mode = Statement::Prepare(raw.get(), "PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok() && *mode->Step());
  EXPECT_EQ(mode->View(0), "wal");

  ASSERT_NE(OpenOrDie(path), nullptr);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM schema_version"), latest);
}

TEST(SqliteStoreTest, AnUpgradeAppliesOnlyTheNewMigrationsAndKeepsData) {
  TempDir dir;
  const auto path = dir.path() / "controller.db";
  const std::vector<Migration> v1 = {{1, "CREATE TABLE a (x INTEGER)"}};
  const std::vector<Migration> v2 = {
      {1, "CREATE TABLE a (x INTEGER)"},
      {2, "ALTER TABLE a ADD COLUMN y TEXT NOT NULL DEFAULT 'new'; CREATE TABLE b (z INTEGER)"}};
  ASSERT_TRUE(OpenSqliteStore(path, v1).ok());
  {
    const SqliteDb raw = RawConnection(path);
    ASSERT_TRUE(ExecSql(raw.get(), "INSERT INTO a (x) VALUES (7)").ok());
  }
  ASSERT_TRUE(OpenSqliteStore(path, v2).ok());
  const SqliteDb raw = RawConnection(path);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT MAX(version) FROM schema_version"), 2);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM a WHERE x = 7 AND y = 'new'"), 1);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM b"), 0);
}

TEST(SqliteStoreTest, AFailedMigrationLeavesThePreviousVersion) {
  TempDir dir;
  const auto path = dir.path() / "controller.db";
  const std::vector<Migration> broken = {
      {1, "CREATE TABLE a (x INTEGER)"},
      {2, "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table"}};
  const auto opened = OpenSqliteStore(path, broken);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("migration 2"), absl::string_view::npos)
      << opened.status();
  const SqliteDb raw = RawConnection(path);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT MAX(version) FROM schema_version"), 1);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half_done'"), 0);
}

TEST(SqliteStoreTest, ADatabaseFromANewerControllerIsRefusedAndLeftAlone) {
  TempDir dir;
  const auto path = dir.path() / "controller.db";
  ASSERT_NE(OpenOrDie(path), nullptr);
  const auto future = static_cast<int64_t>(ControllerMigrations().size()) + 1;
  {
    const SqliteDb raw = RawConnection(path);
    absl::StatusOr<Statement> insert =
        Statement::Prepare(raw.get(), "INSERT INTO schema_version VALUES (?1, 0)");
    ASSERT_TRUE(insert.ok());
    ASSERT_TRUE(insert->BindInt64(1, future).Run().ok());
  }
  const auto reopened = OpenSqliteStore(path);
  ASSERT_EQ(reopened.status().code(), absl::StatusCode::kFailedPrecondition) << reopened.status();
  EXPECT_NE(reopened.status().message().find(path.string()), absl::string_view::npos);
  EXPECT_NE(reopened.status().message().find(absl::StrCat(future)), absl::string_view::npos);
  const SqliteDb raw = RawConnection(path);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT MAX(version) FROM schema_version"), future);
}

TEST(SqliteStoreTest, BadPathsAreErrorsNamingThePath) {
  TempDir dir;
  const auto missing = OpenSqliteStore(dir.path() / "absent" / "controller.db");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("absent"), absl::string_view::npos);

  const auto junk = dir.WriteFile("junk.db", std::string(4096, 'x'));
  const auto not_a_database = OpenSqliteStore(junk);
  EXPECT_EQ(not_a_database.status().code(), absl::StatusCode::kDataLoss) << not_a_database.status();
  EXPECT_NE(not_a_database.status().message().find("junk.db"), absl::string_view::npos);
}

// --- Tokens and enrollment ---

// A store that is open in one process (the server) must keep seeing, and
// keeping, what other processes (the CLI) write while it runs: opening the
// file outside SQLite once dropped its locks, and the next process to close
// the database deleted the write-ahead log from under the server.
TEST(SqliteStoreTest, AnotherProcessOpeningAndClosingLosesNothing) {
  testing::TempDir temp;
  const auto path = temp.path() / "controller.db";
  auto server = OpenSqliteStore(path);
  ASSERT_TRUE(server.ok()) << server.status();
  const pid_t child = ::fork();
  if (child == 0) {
    auto cli = OpenSqliteStore(path);
    const bool ok = cli.ok() && (*cli)->PutToken({"cc", "vendor-a", "host-1", 100, 200, false}).ok();
    cli = absl::InternalError("closed");  // close the CLI's connection
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The server sees the CLI's token, and another process sees the server's
  // writes while the server is still open.
  ASSERT_TRUE((*server)->PutToken({"dd", "vendor-a", "host-2", 100, 200, false}).ok());
  EXPECT_TRUE((*server)->ConsumeTokenAndEnroll("cc", 150, AgentKey("a-1"), {}).ok());
  const pid_t reader = ::fork();
  if (reader == 0) {
    auto cli = OpenSqliteStore(path);
    const bool ok = cli.ok() && (*cli)->GetEnrollment("a-1").ok() &&
                    (*cli)->ConsumeTokenAndEnroll("dd", 150, AgentKey("a-2"), {}).ok();
    cli = absl::InternalError("closed");
    ::_exit(ok ? 0 : 1);
  }
  ASSERT_EQ(::waitpid(reader, &status, 0), reader);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE((*server)->GetEnrollment("a-2").ok());
}

TEST(SqliteStoreTest, ATokenEnrollsOnceAndOnlyBeforeItExpires) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() / "controller.db");
  ASSERT_TRUE(store->PutToken({"aa", "vendor-a", "host-1", 100, 200, false}).ok());
  ASSERT_TRUE(store->PutToken({"bb", "vendor-a", "host-2", 100, 200, false}).ok());
  EXPECT_EQ(store->PutToken({"aa", "vendor-b", "host-9", 100, 200, false}).code(),
            absl::StatusCode::kAlreadyExists);

  Enrollment request = AgentKey("agent-1");
  request.vendor_id = "vendor-forged";  // the token decides, not the request
  request.host_id = "host-forged";
  absl::StatusOr<Enrollment> enrolled = store->ConsumeTokenAndEnroll("aa", 150, request, {});
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  EXPECT_EQ(enrolled->vendor_id, "vendor-a");
  EXPECT_EQ(enrolled->host_id, "host-1");
  absl::StatusOr<Enrollment> stored = store->GetEnrollment("agent-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->vendor_id, "vendor-a");
  EXPECT_EQ(stored->client_certificate_pem, request.client_certificate_pem);

  const absl::Status used =
      store->ConsumeTokenAndEnroll("aa", 150, AgentKey("agent-2"), {}).status();
  const absl::Status expired =
      store->ConsumeTokenAndEnroll("bb", 200, AgentKey("agent-2"), {}).status();
  const absl::Status unknown =
      store->ConsumeTokenAndEnroll("cc", 150, AgentKey("agent-2"), {}).status();
  EXPECT_EQ(used.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(used, expired);  // the same answer reveals nothing about the token
  EXPECT_EQ(used, unknown);
  EXPECT_EQ(store->GetEnrollment("agent-2").status().code(), absl::StatusCode::kNotFound);
}

TEST(SqliteStoreTest, EnrollingATakenAgentIdFailsAndLeavesTheTokenUnused) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() / "controller.db");
  Enroll(*store, "agent-1", "vendor-a");
  ASSERT_TRUE(store->PutToken({"dd", "vendor-b", "host-1", 0, 200, false}).ok());
  EXPECT_EQ(store->ConsumeTokenAndEnroll("dd", 100, AgentKey("agent-1"), {}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store->ConsumeTokenAndEnroll("dd", 100, AgentKey("agent-2"), {}).ok());
}

// The certificate is issued inside the transaction that spends the token:
// it sees the token's vendor and host, and when it cannot be issued nothing
// is stored and the token can still be used.
TEST(SqliteStoreTest, AnEnrollmentThatCannotBeCompletedLeavesNothingAndTheTokenUnused) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() / "controller.db");
  ASSERT_TRUE(store->PutToken({"ee", "vendor-a", "host-7", 0, 200, false}).ok());
  std::string seen;
  const auto refuse = [&](Enrollment& pending) {
    seen = pending.vendor_id + "/" + pending.host_id;
    return absl::InvalidArgumentError("no certificate for this identity");
  };
  const absl::Status refused =
      store->ConsumeTokenAndEnroll("ee", 100, AgentKey("agent-1"), refuse).status();
  EXPECT_EQ(refused, absl::InvalidArgumentError("no certificate for this identity"));
  EXPECT_EQ(seen, "vendor-a/host-7");
  EXPECT_EQ(store->GetEnrollment("agent-1").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store->ListEnrollments("").ok());
  EXPECT_TRUE(store->ListEnrollments("")->empty());

  const auto issue = [](Enrollment& pending) {
    pending.client_certificate_pem = "certificate for " + pending.host_id;
    pending.certificate_serial_hex = "0a";
    return absl::OkStatus();
  };
  ASSERT_TRUE(store->ConsumeTokenAndEnroll("ee", 100, AgentKey("agent-2"), issue).ok());
  absl::StatusOr<Enrollment> stored = store->GetEnrollment("agent-2");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->client_certificate_pem, "certificate for host-7");
  EXPECT_EQ(stored->certificate_serial_hex, "0a");
}

TEST(SqliteStoreTest, ListsAndBansEnrollments) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() / "controller.db");
  Enroll(*store, "agent-b", "vendor-b");
  Enroll(*store, "agent-a2", "vendor-a");
  Enroll(*store, "agent-a1", "vendor-a");
  absl::StatusOr<std::vector<Enrollment>> vendor_a = store->ListEnrollments("vendor-a");
  ASSERT_TRUE(vendor_a.ok());
  ASSERT_EQ(vendor_a->size(), 2u);
  EXPECT_EQ((*vendor_a)[0].agent_id, "agent-a1");
  EXPECT_EQ((*vendor_a)[1].agent_id, "agent-a2");
  EXPECT_EQ(store->ListEnrollments("")->size(), 3u);

  ASSERT_TRUE(store->BanAgent("agent-a1", 5000).ok());
  ASSERT_TRUE(store->BanAgent("agent-a1", 6000).ok());
  const Enrollment banned = *store->GetEnrollment("agent-a1");
  EXPECT_TRUE(banned.banned);
  EXPECT_EQ(banned.banned_at, 5000);
  EXPECT_FALSE(store->GetEnrollment("agent-a2")->banned);
  EXPECT_EQ(store->BanAgent("agent-x", 1).code(), absl::StatusCode::kNotFound);
}

// --- Inventory ---

TEST(SqliteStoreTest, ImportIsAllOrNothingAndRepeatingItChangesNothing) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() / "controller.db");
  const std::vector<InventoryFileRow> files = {MakeInventoryRow("c-1", "d-1", "a.csv", 1),
                                               MakeInventoryRow("c-1", "d-2", "b.csv", 2),
                                               MakeInventoryRow("c-2", "d-3", "c.csv", 3)};
  const std::vector<FingerprintSetRow> sets = {{"d-1", "{\"dataset_id\": \"d-1\"}\n"},
                                               {"d-3", "{\"dataset_id\": \"d-3\"}"}};
  absl::StatusOr<ControllerStore::ImportCounts> first = store->ImportInventory(files, sets);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->files_added, 3u);
  EXPECT_EQ(first->fingerprint_sets_added, 2u);

  absl::StatusOr<ControllerStore::ImportCounts> again = store->ImportInventory(files, sets);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->files_added, 0u);
  EXPECT_EQ(again->files_unchanged, 3u);
  EXPECT_EQ(again->fingerprint_sets_added, 0u);

  // A new contract's rows, then one that changes a stored row: nothing stays.
  std::vector<InventoryFileRow> conflicting = {MakeInventoryRow("c-3", "d-4", "new.csv", 4),
                                               MakeInventoryRow("c-1", "d-2", "b.csv", 2)};
  conflicting[1].sha256 = Hex64(99);
  const absl::Status conflict = store->ImportInventory(conflicting, {}).status();
  EXPECT_EQ(conflict.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(conflict.message().find("b.csv"), absl::string_view::npos) << conflict;
  EXPECT_NE(conflict.message().find("sha256"), absl::string_view::npos) << conflict;
  EXPECT_EQ(*store->ContractIds(), (std::vector<std::string>{"c-1", "c-2"}));

  const absl::Status set_conflict =
      store->ImportInventory({MakeInventoryRow("c-4", "d-5", "x.csv")}, {{"d-1", "{}"}}).status();
  EXPECT_EQ(set_conflict.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(set_conflict.message().find("d-1"), absl::string_view::npos);
  EXPECT_EQ(store->ContractIds()->size(), 2u);

  absl::StatusOr<std::vector<FingerprintSetRow>> c1_sets = store->FingerprintSetsForContract("c-1");
  ASSERT_TRUE(c1_sets.ok());
  ASSERT_EQ(c1_sets->size(), 1u);
  EXPECT_EQ((*c1_sets)[0].json, sets[0].json);
  EXPECT_TRUE(store->FingerprintSetsForContract("c-9")->empty());
}

TEST(SqliteStoreTest, StreamsAContractsFilesInDatasetAndPathOrder) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() / "controller.db");
  constexpr int kRows = 100000;
  std::vector<InventoryFileRow> files;
  files.reserve(kRows + 1);
  for (int i = kRows - 1; i >= 0; --i) {  // stored in reverse, read back sorted
    files.push_back(MakeInventoryRow("c-big", absl::StrFormat("d-%02d", i % 10),
                                     absl::StrFormat("f%06d", i),
                                     static_cast<uint64_t>(i) + (uint64_t{1} << 63)));
  }
  files.push_back(MakeInventoryRow("c-other", "d-00", "elsewhere"));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(store->ImportInventory(files, {}).ok());
  const auto imported = std::chrono::steady_clock::now();

  std::string previous;
  int rows = 0;
  const absl::Status walked =
      store->ForEachInventoryFile("c-big", [&](const InventoryFileRow& file) {
        const std::string key = absl::StrCat(file.dataset_id, "/", file.path);
        if (key <= previous) return absl::InternalError(absl::StrCat("out of order: ", key));
        if (file.size < (uint64_t{1} << 63)) return absl::InternalError("size did not round-trip");
        previous = key;
        ++rows;
        return absl::OkStatus();
      });
  const auto streamed = std::chrono::steady_clock::now();
  ASSERT_TRUE(walked.ok()) << walked;
  EXPECT_EQ(rows, kRows);
  const auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::cout << "import " << kRows << " rows: " << ms(imported - start)
            << " ms, stream: " << ms(streamed - imported) << " ms\n";
  EXPECT_LT(ms(streamed - imported), 10000);

  // A callback's error stops the walk; the callback may use the store.
  int seen = 0;
  const absl::Status stopped = store->ForEachInventoryFile("c-big", [&](const InventoryFileRow&) {
    if (!store->LogSize().ok()) return absl::InternalError("store unusable from the callback");
    return ++seen == 3 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(seen, 3);
  EXPECT_TRUE(store
                  ->ForEachInventoryFile("c-none",
                                         [](const InventoryFileRow&) {
                                           return absl::InternalError("no rows expected");
                                         })
                  .ok());
  EXPECT_EQ(*store->ContractIds(), (std::vector<std::string>{"c-big", "c-other"}));
}

}  // namespace
}  // namespace offboard::controller
