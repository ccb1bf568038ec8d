// Orders, the transparency log and what hangs off it in the SQLite store,
// on real database files: dense indexes under concurrency, idempotent
// appends, exact bytes, and durability across reopening.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "controller/store/sqlite_store.h"
#include "tests/controller/store/sqlite_store_fixtures.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

using ::offboard::testing::TempDir;

// --- Orders ---

TEST(SqliteStoreTest, StoresOrdersInOneTransaction) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() / "controller.db");
  Enroll(*store, "agent-1", "vendor-a");
  Enroll(*store, "agent-2", "vendor-a");
  ASSERT_TRUE(store
                  ->PutOrders({MakeOrder("o-2", "c-1", "agent-1", 2002),
                               MakeOrder("o-1", "c-1", "agent-1", 2001),
                               MakeOrder("o-3", "c-2", "agent-2")})
                  .ok());
  const absl::Status duplicate =
      store->PutOrders({MakeOrder("o-4", "c-1", "agent-2"), MakeOrder("o-1", "c-1", "agent-2")});
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(duplicate.message().find("o-1"), absl::string_view::npos);
  EXPECT_EQ(store->GetOrder("o-4").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->PutOrders({MakeOrder("o-5", "c-1", "agent-unknown")}).code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<OrderRow> order = store->GetOrder("o-3");
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->envelope, MakeOrder("o-3", "c-2", "agent-2").envelope);
  EXPECT_EQ(order->nonce_hex, Hex64(42));
  const auto for_agent = *store->OrdersForAgent("agent-1");
  ASSERT_EQ(for_agent.size(), 2u);
  EXPECT_EQ(for_agent[0].order_id, "o-1");
  EXPECT_EQ(for_agent[1].order_id, "o-2");
  EXPECT_EQ(store->OrdersForContract("c-2")->size(), 1u);
}

// --- Attestations and the log ---

class SqliteStoreLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenOrDie(path_);
    ASSERT_NE(store_, nullptr);
    Enroll(*store_, "agent-1", "vendor-a");
    Enroll(*store_, "agent-2", "vendor-a");
    ASSERT_TRUE(
        store_
            ->PutOrders({MakeOrder("o-1", "c-1", "agent-1"), MakeOrder("o-2", "c-1", "agent-2"),
                         MakeOrder("o-3", "c-2", "agent-1")})
            .ok());
  }

  TempDir dir_;
  const boost::filesystem::path path_ = dir_.path() / "controller.db";
  std::unique_ptr<ControllerStore> store_;
};

TEST_F(SqliteStoreLogTest, AppendsDenseIndexesIdempotently) {
  const std::string with_nul("{\"payload\":\"a\0b\"}\0", 19);
  absl::StatusOr<AttestationRow> first =
      store_->AppendAttestation("o-1", "agent-1", with_nul, Hex64(1), 3000);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->log_index, 0u);
  absl::StatusOr<AttestationRow> second =
      store_->AppendAttestation("o-3", "agent-1", "envelope-3", Hex64(3), 3001);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->log_index, 1u);

  absl::StatusOr<AttestationRow> retry =
      store_->AppendAttestation("o-1", "agent-1", with_nul, Hex64(1), 9999);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->log_index, 0u);
  EXPECT_EQ(retry->accepted_at, 3000);  // the stored row, unchanged
  EXPECT_EQ(
      store_->AppendAttestation("o-1", "agent-1", "other bytes", Hex64(5), 3002).status().code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->AppendAttestation("o-9", "agent-1", "x", Hex64(5), 3002).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->AppendAttestation("o-2", "agent-9", "x", Hex64(5), 3002).status().code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(*store_->LogSize(), 2u);
  absl::StatusOr<AttestationRow> stored = store_->GetAttestation(0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->envelope, with_nul);
  EXPECT_EQ(stored->envelope.size(), 19u);
  EXPECT_EQ(store_->GetAttestation(2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->AnsweredOrders("c-1"), std::vector<std::string>{"o-1"});
  EXPECT_EQ(*store_->AnsweredOrders("c-9"), std::vector<std::string>{});
  const absl::StatusOr<AttestationRow> for_order = store_->AttestationFor("o-1", "agent-1");
  ASSERT_TRUE(for_order.ok()) << for_order.status();
  EXPECT_EQ(for_order->log_index, 0u);
  EXPECT_EQ(for_order->envelope, with_nul);
  EXPECT_EQ(store_->AttestationFor("o-1", "agent-2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->LeafHashes(0, 2), (std::vector<std::string>{Hex64(1), Hex64(3)}));
  EXPECT_EQ(*store_->LeafHashes(1, 1), std::vector<std::string>{});
  EXPECT_EQ(store_->LeafHashes(1, 3).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store_->LeafHashes(2, 1).status().code(), absl::StatusCode::kOutOfRange);

  const auto c1 = *store_->AttestationsForContract("c-1");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].order_id, "o-1");
  EXPECT_EQ(c1[0].envelope, with_nul);
}

// An attestation in parts: one leaf per part, the order answered only once
// every part is stored, and no part of another run or count mixed in.
TEST_F(SqliteStoreLogTest, StoresAnAttestationInPartsOfOneRun) {
  const std::string leaf_hash = Hex64(7);  // NewLeaf holds views
  const auto append = [&](absl::string_view envelope, LeafPart part) {
    const ControllerStore::NewLeaf leaf{.order_id = "o-1",
                                        .agent_id = "agent-1",
                                        .envelope = envelope,
                                        .leaf_hash_hex = leaf_hash,
                                        .accepted_at = 3000,
                                        .part = part};
    auto results = store_->AppendBatch({leaf}, nullptr);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? std::move(results->front()) : results.status();
  };
  const LeafPart part1{.run_id = "run-a", .index = 1, .count = 3};
  const LeafPart part3{.run_id = "run-a", .index = 3, .count = 3};
  ASSERT_TRUE(append("part 1", part1).ok());
  EXPECT_EQ(*store_->AnsweredOrders("c-1"), std::vector<std::string>{});
  ASSERT_TRUE(append("part 3", part3).ok());
  EXPECT_EQ(append("part 1", part1)->log_index, 0u);  // a resend of a part

  const absl::StatusOr<AttestationRow> other = append("another part 1", part1);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(other.status().message().find("part 1 of 3"), absl::string_view::npos)
      << other.status();
  const absl::StatusOr<AttestationRow> other_run =
      append("part 2 of run b", {.run_id = "run-b", .index = 2, .count = 3});
  EXPECT_EQ(other_run.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(other_run.status().message().find("run-b"), absl::string_view::npos)
      << other_run.status();
  EXPECT_EQ(append("part 2 of 4", {.run_id = "run-a", .index = 2, .count = 4}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*store_->AnsweredOrders("c-1"), std::vector<std::string>{});

  ASSERT_TRUE(append("part 2", {.run_id = "run-a", .index = 2, .count = 3}).ok());
  EXPECT_EQ(*store_->AnsweredOrders("c-1"), std::vector<std::string>{"o-1"});
  EXPECT_EQ(*store_->LogSize(), 3u);
  const absl::StatusOr<AttestationRow> third = store_->AttestationFor("o-1", "agent-1", 3);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->envelope, "part 3");
  EXPECT_EQ(third->part.run_id, "run-a");
  EXPECT_EQ(third->part.index, 3u);
  EXPECT_EQ(third->part.count, 3u);
  const auto rows = *store_->AttestationsForContract("c-1");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].part.index, 3u);
}

TEST(SqliteStoreMigrationTest, AttestationsOfSchemaOneBecomeTheirOnlyPart) {
  TempDir dir;
  const auto path = dir.path() / "controller.db";
  {
    const std::vector<Migration> v1(ControllerMigrations().begin(),
                                    ControllerMigrations().begin() + 1);
    absl::StatusOr<std::unique_ptr<ControllerStore>> old = OpenSqliteStore(path, v1);
    ASSERT_TRUE(old.ok()) << old.status();
    Enroll(**old, "agent-1", "vendor-a");
    ASSERT_TRUE((*old)->PutOrders({MakeOrder("o-1", "c-1", "agent-1")}).ok());
    const SqliteDb raw = RawConnection(path);
    ASSERT_TRUE(
        ExecSql(raw.get(), "INSERT INTO attestations VALUES (0, 'o-1', 'agent-1', x'00ff', 'h', 5)")
            .ok());
  }
  const auto store = OpenOrDie(path);
  const absl::StatusOr<AttestationRow> row = store->GetAttestation(0);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->envelope, std::string("\0\xff", 2));
  EXPECT_EQ(row->accepted_at, 5);
  EXPECT_EQ(row->part.run_id, "");
  EXPECT_EQ(row->part.index, 1u);
  EXPECT_EQ(row->part.count, 1u);
  EXPECT_EQ(*store->AnsweredOrders("c-1"), std::vector<std::string>{"o-1"});
  // Still append-only after the rebuild.
  const SqliteDb raw = RawConnection(path);
  EXPECT_FALSE(ExecSql(raw.get(), "DELETE FROM attestations").ok());
  EXPECT_FALSE(ExecSql(raw.get(), "UPDATE attestations SET envelope = 'x'").ok());
  EXPECT_EQ(*store->IntegrityCheck(), "ok");
}

TEST_F(SqliteStoreLogTest, AppendsABatchWithItsHeadInOneCommit) {
  ASSERT_TRUE(store_->AppendAttestation("o-3", "agent-1", "e3", Hex64(3), 3000).ok());
  std::vector<uint64_t> seen;
  const auto head_for =
      [&](const std::vector<const AttestationRow*>& appended) -> absl::StatusOr<TreeHeadRow> {
    for (const AttestationRow* row : appended) seen.push_back(row->log_index);
    return TreeHeadRow{1 + appended.size(), Hex64(99), 3001, "sth"};
  };
  // A retry of a stored leaf, two new ones, the same new one twice and a refusal.
  const auto results = store_->AppendBatch({{"o-3", "agent-1", "e3", Hex64(3), 3001},
                                            {"o-1", "agent-1", "e1", Hex64(1), 3001},
                                            {"o-2", "agent-2", "e2", Hex64(2), 3001},
                                            {"o-1", "agent-1", "e1", Hex64(1), 3001},
                                            {"o-9", "agent-1", "e9", Hex64(9), 3001}},
                                           head_for);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 5u);
  EXPECT_EQ((*results)[0]->log_index, 0u);
  EXPECT_EQ((*results)[0]->accepted_at, 3000);
  EXPECT_EQ((*results)[1]->log_index, 1u);
  EXPECT_EQ((*results)[2]->log_index, 2u);
  EXPECT_EQ((*results)[3]->log_index, 1u);
  EXPECT_EQ((*results)[4].status().code(), absl::StatusCode::kNotFound);
  // Only the leaves that took an index, in log order.
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(store_->LatestTreeHead()->tree_size, 3u);

  // A head that cannot be stored (a second root for size 3) takes the whole
  // batch back with it.
  const auto split = store_->AppendBatch(
      {{"o-1", "agent-1", "e1", Hex64(1), 3002}},  // nothing new: no head asked for
      [](const auto&) -> absl::StatusOr<TreeHeadRow> { return absl::InternalError("unused"); });
  EXPECT_TRUE(split.ok()) << split.status();
  ASSERT_TRUE(store_->PutOrders({MakeOrder("o-4", "c-1", "agent-1")}).ok());
  const auto refused = store_->AppendBatch({{"o-4", "agent-1", "e4", Hex64(4), 3003}},
                                           [](const auto&) -> absl::StatusOr<TreeHeadRow> {
                                             return TreeHeadRow{3, Hex64(98), 3003, "split view"};
                                           });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  const auto unsigned_head = store_->AppendBatch(
      {{"o-4", "agent-1", "e4", Hex64(4), 3003}},
      [](const auto&) -> absl::StatusOr<TreeHeadRow> { return absl::InternalError("no key"); });
  EXPECT_EQ(unsigned_head.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(*store_->LogSize(), 3u);
  EXPECT_EQ(store_->TreeHeads()->size(), 1u);
}

// Every attestation looks up its order and its agent's enrollment; those
// lookups must not wait while a batch commits (milliseconds for the fsync).
TEST_F(SqliteStoreLogTest, OrderAndEnrollmentLookupsDoNotWaitForABatchCommit) {
  bool answered_during_commit = false;
  std::future<bool> lookups;
  const auto head_for =
      [&](const std::vector<const AttestationRow*>& appended) -> absl::StatusOr<TreeHeadRow> {
    // Inside the write transaction, as the commit's fsync would be.
    lookups = std::async(std::launch::async, [&] {
      const absl::StatusOr<Enrollment> enrollment = store_->GetEnrollment("agent-1");
      return store_->GetOrder("o-2").ok() && enrollment.ok() && enrollment->vendor_id == "vendor-a";
    });
    answered_during_commit = lookups.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    return TreeHeadRow{appended.size(), Hex64(97), 3001, "sth"};
  };
  const auto results = store_->AppendBatch({{"o-1", "agent-1", "e1", Hex64(1), 3001}}, head_for);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_TRUE(answered_during_commit);
  EXPECT_TRUE(lookups.get());
}

TEST_F(SqliteStoreLogTest, IntegrityCheckAlsoReportsDanglingForeignKeys) {
  EXPECT_EQ(*store_->IntegrityCheck(), "ok");
  const SqliteDb raw = RawConnection(path_);  // foreign keys are off by default
  ASSERT_TRUE(
      ExecSql(raw.get(),
              "INSERT INTO attestations VALUES (0, 'o-gone', 'agent-1', x'00', 'h', 1, '', 1, 1)")
          .ok());
  const std::string report = *store_->IntegrityCheck();
  EXPECT_NE(report.find("foreign key violation: attestations"), std::string::npos) << report;
}

TEST_F(SqliteStoreLogTest, TheLogCannotBeRewrittenEvenFromSql) {
  ASSERT_TRUE(store_->AppendAttestation("o-1", "agent-1", "e", Hex64(1), 1).ok());
  const SqliteDb raw = RawConnection(path_);
  EXPECT_FALSE(ExecSql(raw.get(), "UPDATE attestations SET envelope = 'forged'").ok());
  EXPECT_FALSE(ExecSql(raw.get(), "DELETE FROM attestations").ok());
  EXPECT_EQ(store_->GetAttestation(0)->envelope, "e");
}

TEST_F(SqliteStoreLogTest, KeepsTreeHeadsPerSize) {
  EXPECT_EQ(store_->LatestTreeHead().status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->AppendAttestation("o-1", "agent-1", "e1", Hex64(1), 1).ok());
  ASSERT_TRUE(store_->AppendAttestation("o-2", "agent-2", "e2", Hex64(2), 2).ok());
  ASSERT_TRUE(store_->PutTreeHead({2, Hex64(20), 10, "sth-2"}).ok());
  ASSERT_TRUE(store_->PutTreeHead({1, Hex64(10), 5, "sth-1"}).ok());
  ASSERT_TRUE(store_->PutTreeHead({2, Hex64(20), 11, "sth-2-again"}).ok());
  EXPECT_EQ(store_->PutTreeHead({2, Hex64(21), 12, "split"}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->PutTreeHead({3, Hex64(30), 12, "ahead"}).code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<TreeHeadRow> latest = store_->LatestTreeHead();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->tree_size, 2u);
  EXPECT_EQ(latest->signed_envelope, "sth-2");  // the first head for a size stays
  const auto heads = *store_->TreeHeads();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].tree_size, 1u);
  EXPECT_EQ(heads[0].root_hash_hex, Hex64(10));
}

TEST_F(SqliteStoreLogTest, KeepsRefusalsAndSelfAttestationsPerContract) {
  ASSERT_TRUE(store_->PutRefusal({20, "o-2", "agent-2", "bad signature"}).ok());
  ASSERT_TRUE(store_->PutRefusal({10, "o-1", "agent-1", "nonce mismatch"}).ok());
  ASSERT_TRUE(store_->PutRefusal({30, "o-3", "agent-1", "expired"}).ok());
  ASSERT_TRUE(store_->PutRefusal({40, "o-unknown", "agent-1", "unknown order"}).ok());
  const auto refusals = *store_->RefusalsForContract("c-1");
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].reason, "nonce mismatch");
  EXPECT_EQ(refusals[1].order_id, "o-2");

  const std::string statement("officer\0signed", 14);
  ASSERT_TRUE(store_->PutSelfAttestation({"c-1", Hex64(8), statement, 50}).ok());
  ASSERT_TRUE(store_->PutSelfAttestation({"c-1", Hex64(8), statement, 60}).ok());
  ASSERT_TRUE(store_->PutSelfAttestation({"c-2", Hex64(8), "other", 70}).ok());
  const auto self = *store_->SelfAttestationsForContract("c-1");
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self[0].envelope, statement);
  EXPECT_EQ(self[0].accepted_at, 50);
}

TEST_F(SqliteStoreLogTest, ConcurrentAppendsGetDenseUniqueIndexes) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::vector<OrderRow> orders;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      orders.push_back(MakeOrder(absl::StrCat("p-", t, "-", i), "c-9", "agent-1"));
    }
  }
  ASSERT_TRUE(store_->PutOrders(orders).ok());
  std::vector<std::vector<uint64_t>> indexes(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string order_id = absl::StrCat("p-", t, "-", i);
        auto row = store_->AppendAttestation(order_id, "agent-1", absl::StrCat("env-", order_id),
                                             Hex64(t * kPerThread + i), 1);
        // Refusals and retries share commits with good appends.
        const auto unknown = store_->AppendAttestation("p-unknown", "agent-1", "x", Hex64(0), 1);
        const auto retry = store_->AppendAttestation(order_id, "agent-1",
                                                     absl::StrCat("env-", order_id), Hex64(0), 2);
        if (!row.ok() || unknown.status().code() != absl::StatusCode::kNotFound || !retry.ok() ||
            retry->log_index != row->log_index || retry->accepted_at != 1) {
          ++failures;
          continue;
        }
        indexes[static_cast<size_t>(t)].push_back(row->log_index);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::cout << kThreads * kPerThread << " durable appends from " << kThreads << " threads: " << ms
            << " ms\n";
  EXPECT_EQ(failures.load(), 0);
  std::set<uint64_t> all;
  for (const auto& per_thread : indexes) all.insert(per_thread.begin(), per_thread.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.begin(), 0u);
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kThreads * kPerThread - 1));
  EXPECT_EQ(*store_->LogSize(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(*store_->IntegrityCheck(), "ok");
}

// The log and the ban agree on their order, whatever the callers' clocks
// said: a ban records no earlier time than the agent's last accepted
// attestation, and no attestation of a banned agent is appended.
TEST_F(SqliteStoreLogTest, ABanAndTheLogAgreeOnTheirOrder) {
  ASSERT_TRUE(store_->AppendAttestation("o-1", "agent-1", "envelope-1", Hex64(1), 3000).ok());
  ASSERT_TRUE(store_->AppendAttestation("o-3", "agent-1", "envelope-3", Hex64(3), 3005).ok());
  ASSERT_TRUE(store_->BanAgent("agent-1", 2990).ok());  // its clock read before both
  EXPECT_EQ(store_->GetEnrollment("agent-1")->banned_at, 3005);

  ASSERT_TRUE(store_->BanAgent("agent-2", 4000).ok());  // nothing accepted: its own time
  EXPECT_EQ(store_->GetEnrollment("agent-2")->banned_at, 4000);
  const absl::StatusOr<AttestationRow> after =
      store_->AppendAttestation("o-2", "agent-2", "envelope-2", Hex64(2), 3999);
  EXPECT_EQ(after.status().code(), absl::StatusCode::kPermissionDenied) << after.status();
  EXPECT_EQ(*store_->LogSize(), 2u);
  // A retry of what was stored before the ban still gets its row.
  ASSERT_TRUE(store_->AppendAttestation("o-1", "agent-1", "envelope-1", Hex64(1), 9999).ok());
  EXPECT_EQ(*store_->LogSize(), 2u);
}

TEST_F(SqliteStoreLogTest, EverythingSurvivesClosingAndReopening) {
  ASSERT_TRUE(
      store_->ImportInventory({MakeInventoryRow("c-1", "d-1", "a.csv")}, {{"d-1", "{}"}}).ok());
  ASSERT_TRUE(store_->AppendAttestation("o-1", "agent-1", std::string("e\0", 2), Hex64(1), 7).ok());
  ASSERT_TRUE(store_->PutTreeHead({1, Hex64(11), 8, "sth"}).ok());
  ASSERT_TRUE(store_->PutRefusal({9, "o-2", "agent-2", "late"}).ok());
  ASSERT_TRUE(store_->PutSelfAttestation({"c-1", Hex64(8), "officer", 10}).ok());
  ASSERT_TRUE(store_->BanAgent("agent-2", 11).ok());
  store_.reset();

  store_ = OpenOrDie(path_);
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(*store_->IntegrityCheck(), "ok");
  EXPECT_EQ(store_->ListEnrollments("vendor-a")->size(), 2u);
  EXPECT_TRUE(store_->GetEnrollment("agent-2")->banned);
  EXPECT_EQ(store_->OrdersForContract("c-1")->size(), 2u);
  EXPECT_EQ(*store_->ContractIds(), std::vector<std::string>{"c-1"});
  EXPECT_EQ(store_->FingerprintSetsForContract("c-1")->size(), 1u);
  EXPECT_EQ(store_->GetAttestation(0)->envelope, std::string("e\0", 2));
  EXPECT_EQ(*store_->LogSize(), 1u);
  EXPECT_EQ(store_->LatestTreeHead()->signed_envelope, "sth");
  EXPECT_EQ(store_->RefusalsForContract("c-1")->size(), 1u);
  EXPECT_EQ(store_->SelfAttestationsForContract("c-1")->size(), 1u);
  // The next append continues the log.
  EXPECT_EQ(store_->AppendAttestation("o-3", "agent-1", "e3", Hex64(3), 12)->log_index, 1u);
}

}  // namespace
}  // namespace offboard::controller
