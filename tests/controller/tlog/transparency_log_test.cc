// The transparency log over a real SQLite store: concurrent appends are
// committed in batches, each with the one signed head that covers it, and a
// batch whose commit fails leaves neither the store nor the tree in memory
// holding any of it.
#include "controller/tlog/transparency_log.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/signed/signed_messages.h"
#include "tests/controller/store/sqlite_store_fixtures.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

constexpr int kThreads = 6;
constexpr int kOrdersPerThread = 20;

class TransparencyLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenOrDie(path_);
    ASSERT_NE(store_, nullptr);
    Enroll(*store_, "agent-1", "vendor-a");
    std::vector<OrderRow> orders;
    for (int i = 0; i < kThreads * kOrdersPerThread; ++i) {
      orders.push_back(MakeOrder(OrderId(i), "c-1", "agent-1"));
    }
    ASSERT_TRUE(store_->PutOrders(orders).ok());
    log_ = *TransparencyLog::Open(*store_, *common::Ed25519PrivateKey::FromPem(key_.ToPem()));
  }

  static std::string OrderId(int i) { return absl::StrCat("order-", i); }
  static std::string Envelope(int i) { return absl::StrCat("{\"envelope\":", i, "}"); }

  // The receipt's proof leads from the envelope to the root of its head,
  // which the controller's key signed.
  void ExpectVerifies(const offboard::v1::Receipt& receipt, const std::string& envelope) {
    const auto head = common::VerifyReceipt(receipt, envelope, key_.PublicKey());
    EXPECT_TRUE(head.ok()) << "index " << receipt.log_index() << ": " << head.status();
  }

  testing::TempDir temp_;
  const boost::filesystem::path path_ = temp_.path() / "controller.db";
  const common::Ed25519PrivateKey key_ = *common::Ed25519PrivateKey::Generate();
  std::unique_ptr<ControllerStore> store_;
  std::unique_ptr<TransparencyLog> log_;
};

TEST_F(TransparencyLogTest, ConcurrentAppendsShareHeadsStoredWithThem) {
  std::mutex mutex;
  std::vector<offboard::v1::Receipt> receipts(kThreads * kOrdersPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int o = 0; o < kOrdersPerThread; ++o) {
        const int i = t * kOrdersPerThread + o;
        const auto receipt = log_->Append(OrderId(i), "agent-1", Envelope(i), 5000 + o);
        ASSERT_TRUE(receipt.ok()) << receipt.status();
        std::lock_guard lock(mutex);
        receipts[i] = *receipt;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const auto heads = *store_->TreeHeads();
  std::set<std::string> stored_heads;
  for (const TreeHeadRow& head : heads) stored_heads.insert(head.signed_envelope);
  std::set<uint64_t> indexes;
  for (int i = 0; i < kThreads * kOrdersPerThread; ++i) {
    ExpectVerifies(receipts[i], Envelope(i));
    indexes.insert(receipts[i].log_index());
    // Every head handed out is durable, not only the latest.
    EXPECT_TRUE(stored_heads.contains(receipts[i].signed_tree_head())) << "index " << i;
  }
  EXPECT_EQ(indexes.size(), receipts.size());
  EXPECT_EQ(*indexes.rbegin(), receipts.size() - 1);
  // At most one head per append, and each is the root of the stored leaves.
  EXPECT_LE(heads.size(), receipts.size());
  EXPECT_EQ(heads.back().tree_size, receipts.size());
  // Reopening rebuilds the tree from the store and checks the latest head.
  log_.reset();
  EXPECT_TRUE(
      TransparencyLog::Open(*store_, *common::Ed25519PrivateKey::FromPem(key_.ToPem())).ok());
}

TEST_F(TransparencyLogTest, AFailedCommitKeepsNothingOfTheBatch) {
  ASSERT_TRUE(log_->Append(OrderId(0), "agent-1", Envelope(0), 5000).ok());
  {
    // The head insert fails inside the batch's transaction.
    SqliteDb raw = RawConnection(path_);
    ASSERT_TRUE(ExecSql(raw.get(),
                        "CREATE TRIGGER refuse_heads BEFORE INSERT ON tree_heads BEGIN"
                        " SELECT RAISE(ABORT, 'heads refused by the test'); END")
                    .ok());
  }
  const auto refused = log_->Append(OrderId(1), "agent-1", Envelope(1), 5001);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("heads refused by the test"), std::string::npos)
      << refused.status();
  EXPECT_EQ(*store_->LogSize(), 1u);
  EXPECT_EQ(log_->size(), 1u);

  ASSERT_TRUE(ExecSql(RawConnection(path_).get(), "DROP TRIGGER refuse_heads").ok());
  // The same envelope again now gets the index the failed batch would have
  // had, and a head whose root is over the stored leaves only.
  const auto receipt = log_->Append(OrderId(1), "agent-1", Envelope(1), 5002);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->log_index(), 1u);
  ExpectVerifies(*receipt, Envelope(1));
  log_.reset();
  EXPECT_TRUE(
      TransparencyLog::Open(*store_, *common::Ed25519PrivateKey::FromPem(key_.ToPem())).ok());
}

}  // namespace
}  // namespace offboard::controller
