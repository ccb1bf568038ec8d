// Attestation intake from many threads at once, without gRPC in between, so
// that ThreadSanitizer sees every lock and handoff (the tsan build runs this;
// Debian's gRPC is not instrumented). Eight agents submit to their own orders
// concurrently, each also sends its envelope a second time and tries another
// agent's order: every honest envelope gets exactly one dense log index, a
// repeat gets the same receipt, every receipt's inclusion proof verifies
// against its signed tree head, and every foreign attempt is refused.
// Also: a store that fails is reported as such, never as a refusal.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/intoto/statement.h"
#include "common/signed/signed_messages.h"
#include "controller/intake/attestation_intake.h"
#include "controller/store/sqlite_store.h"
#include "controller/tlog/transparency_log.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

constexpr int64_t kNow = 1800000000;
constexpr int kAgents = 8;
constexpr int kOrdersPerAgent = 12;

struct TestAgent {
  common::AgentIdentity identity;
  common::Ed25519PrivateKey key = *common::Ed25519PrivateKey::Generate();
  std::vector<OrderRow> orders;
};

std::string Attest(const OrderRow& order, const common::Ed25519PrivateKey& key) {
  common::InTotoStatement statement;
  statement.predicate_type = std::string(common::kDeletionPredicateType);
  statement.subjects.push_back({.name = "a.csv", .digest = {{"sha256", std::string(64, 'a')}}});
  statement.predicate = {
      {"order_id", order.order_id}, {"nonce", order.nonce_hex}, {"items", nlohmann::json::array()}};
  return common::SerializeDsseEnvelope(
      common::SignDsse(common::kInTotoPayloadType, common::SerializeStatement(statement), key));
}

TEST(AttestationIntakeConcurrencyTest, ManyAgentsAtOnceGetDenseVerifiableReceipts) {
  testing::TempDir temp;
  auto store = *OpenSqliteStore(temp.path() / "controller.db");
  const auto controller_key = *common::Ed25519PrivateKey::Generate();
  auto log =
      *TransparencyLog::Open(*store, *common::Ed25519PrivateKey::FromPem(controller_key.ToPem()));
  AttestationIntake intake(*store, *log);

  std::vector<TestAgent> agents(kAgents);
  for (int a = 0; a < kAgents; ++a) {
    TestAgent& agent = agents[a];
    const std::string host = "host-" + std::to_string(a);
    const std::string token = "token-" + host;
    ASSERT_TRUE(store
                    ->PutToken({.token_sha256_hex = common::DigestHex(common::Sha256Of(token)),
                                .vendor_id = "vendor-a",
                                .host_id = host,
                                .created_at = kNow,
                                .expires_at = kNow + 60,
                                .used = false})
                    .ok());
    Enrollment enrollment;
    enrollment.agent_id = "agent-" + std::to_string(a);
    enrollment.attestation_public_key_pem = agent.key.PublicKey().ToPem();
    enrollment.attestation_key_id = agent.key.PublicKey().KeyId();
    const auto enrolled = store->ConsumeTokenAndEnroll(common::DigestHex(common::Sha256Of(token)),
                                                       kNow, enrollment, {});
    ASSERT_TRUE(enrolled.ok()) << enrolled.status();
    agent.identity = {"vendor-a", host, enrollment.agent_id};
    for (int o = 0; o < kOrdersPerAgent; ++o) {
      const std::string id = "order-" + std::to_string(a) + "-" + std::to_string(o);
      agent.orders.push_back({.order_id = id,
                              .contract_id = "c-1",
                              .vendor_id = "vendor-a",
                              .host_id = host,
                              .agent_id = enrollment.agent_id,
                              .nonce_hex = common::DigestHex(common::Sha256Of(id)),
                              .policy_name = "p",
                              .issued_at = kNow,
                              .expires_at = kNow + 600,
                              .envelope = "{}"});
    }
    ASSERT_TRUE(store->PutOrders(agent.orders).ok());
  }

  std::mutex mutex;
  std::vector<std::pair<std::string, offboard::v1::Receipt>> receipts;  // guarded by mutex
  std::vector<std::thread> threads;
  for (int a = 0; a < kAgents; ++a) {
    threads.emplace_back([&, a] {
      const TestAgent& agent = agents[a];
      const TestAgent& neighbour = agents[(a + 1) % kAgents];
      for (const OrderRow& order : agent.orders) {
        const std::string envelope = Attest(order, agent.key);
        const auto receipt = intake.Accept(agent.identity, order.order_id, envelope, kNow);
        ASSERT_TRUE(receipt.ok()) << receipt.status();
        const auto again = intake.Accept(agent.identity, order.order_id, envelope, kNow);
        ASSERT_TRUE(again.ok()) << again.status();
        EXPECT_EQ(again->log_index(), receipt->log_index());
        // The neighbour's order with this agent's key and identity: refused.
        const OrderRow& foreign = neighbour.orders[&order - agent.orders.data()];
        EXPECT_EQ(intake.Accept(agent.identity, foreign.order_id, Attest(foreign, agent.key), kNow)
                      .status()
                      .code(),
                  absl::StatusCode::kPermissionDenied);
        std::lock_guard<std::mutex> lock(mutex);
        receipts.emplace_back(envelope, *receipt);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  ASSERT_EQ(receipts.size(), static_cast<size_t>(kAgents * kOrdersPerAgent));
  std::set<uint64_t> indexes;
  for (const auto& [envelope, receipt] : receipts) {
    EXPECT_TRUE(indexes.insert(receipt.log_index()).second) << "index given twice";
    const auto head = common::VerifyReceipt(receipt, envelope, controller_key.PublicKey());
    EXPECT_TRUE(head.ok()) << "index " << receipt.log_index() << ": " << head.status();
  }
  EXPECT_EQ(*indexes.begin(), 0u);
  EXPECT_EQ(*indexes.rbegin(), receipts.size() - 1);
  EXPECT_EQ(*store->LogSize(), receipts.size());
  EXPECT_EQ(*store->IntegrityCheck(), "ok");
}

// A broken store (here: its enrollments and orders tables renamed away
// behind its back) is the controller's failure: the agent is told so, and
// nothing is recorded against the contract as a refusal.
TEST(AttestationIntakeConcurrencyTest, AFailingStoreIsNoRefusal) {
  testing::TempDir temp;
  const boost::filesystem::path path = temp.path() / "controller.db";
  auto store = *OpenSqliteStore(path);
  auto log = *TransparencyLog::Open(*store, *common::Ed25519PrivateKey::Generate());
  AttestationIntake intake(*store, *log);
  const std::string token_hash = common::DigestHex(common::Sha256Of("token"));
  ASSERT_TRUE(store
                  ->PutToken({.token_sha256_hex = token_hash,
                              .vendor_id = "vendor-a",
                              .host_id = "host-0",
                              .created_at = kNow,
                              .expires_at = kNow + 60,
                              .used = false})
                  .ok());
  const auto key = *common::Ed25519PrivateKey::Generate();
  Enrollment enrollment;
  enrollment.agent_id = "agent-0";
  enrollment.attestation_public_key_pem = key.PublicKey().ToPem();
  enrollment.attestation_key_id = key.PublicKey().KeyId();
  ASSERT_TRUE(store->ConsumeTokenAndEnroll(token_hash, kNow, enrollment, {}).ok());
  const common::AgentIdentity identity{"vendor-a", "host-0", "agent-0"};
  const OrderRow order{.order_id = "order-0",
                       .contract_id = "c-1",
                       .vendor_id = "vendor-a",
                       .host_id = "host-0",
                       .agent_id = "agent-0",
                       .nonce_hex = std::string(64, '0'),
                       .policy_name = "p",
                       .issued_at = kNow,
                       .expires_at = kNow + 600,
                       .envelope = "{}"};
  ASSERT_TRUE(store->PutOrders({order}).ok());

  char* error = nullptr;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  const SqliteDb other(raw);
  ASSERT_EQ(sqlite3_exec(raw, "ALTER TABLE enrollments RENAME TO enrollments_away", nullptr,
                         nullptr, &error),
            SQLITE_OK)
      << error;
  const auto no_enrollment = intake.Accept(identity, "order-0", Attest(order, key), kNow);
  EXPECT_EQ(no_enrollment.status().code(), absl::StatusCode::kInternal) << no_enrollment.status();
  EXPECT_NE(no_enrollment.status().message().find("cannot read the enrollment"),
            absl::string_view::npos)
      << no_enrollment.status();

  ASSERT_EQ(sqlite3_exec(raw, "ALTER TABLE orders RENAME TO orders_away", nullptr, nullptr, &error),
            SQLITE_OK)
      << error;
  const auto no_order = intake.Accept(identity, "order-0", Attest(order, key), kNow);
  EXPECT_EQ(no_order.status().code(), absl::StatusCode::kInternal) << no_order.status();
  EXPECT_NE(no_order.status().message().find("cannot read the order"), absl::string_view::npos)
      << no_order.status();

  ASSERT_EQ(sqlite3_exec(raw,
                         "ALTER TABLE enrollments_away RENAME TO enrollments;"
                         "ALTER TABLE orders_away RENAME TO orders",
                         nullptr, nullptr, &error),
            SQLITE_OK)
      << error;
  const auto refusals = store->RefusalsForContract("c-1");
  ASSERT_TRUE(refusals.ok()) << refusals.status();
  EXPECT_TRUE(refusals->empty());
  EXPECT_TRUE(intake.Accept(identity, "order-0", Attest(order, key), kNow).ok());
}

}  // namespace
}  // namespace offboard::controller
