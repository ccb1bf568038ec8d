// Running one wipe order: only an order signed by the controller, still
// valid and addressed to this agent and vendor is executed; a valid one
// wipes the copies under the root, saves the report, queues the attestation
// in the outbox and is not run twice.
#include "agent/service/order_runner.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <boost/filesystem/operations.hpp>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/identity/agent_key.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/intoto/statement.h"
#include "common/io/read_file.h"
#include "common/policy/wipe_policy.h"
#include "common/reconcile/reconciler.h"
#include "common/signed/signed_messages.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;
using google::protobuf::util::TimeUtil;

constexpr int64_t kNow = 1800000000;
constexpr char kSecret[] = "account,balance\n1,100\n2,200\n";

class OrderRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    temp_.WriteFile("root/copy.csv", kSecret);
    temp_.WriteFile("root/renamed.bak", kSecret);
    temp_.WriteFile("root/unrelated.txt", "keep me");
    fs::create_directories(temp_.path() / "agent");
  }

  offboard::v1::WipeOrder Order() const {
    offboard::v1::WipeOrder order;
    order.set_order_id("order-1");
    order.set_contract_id("c-1");
    order.set_vendor_id("vendor-a");
    order.set_host_id("host-1");
    order.set_agent_id("agent-1");
    order.set_nonce_hex(std::string(64, 'b'));
    *order.mutable_issued_at() = TimeUtil::SecondsToTimestamp(kNow - 60);
    *order.mutable_expires_at() = TimeUtil::SecondsToTimestamp(kNow + 3600);
    *order.mutable_policy() = *common::LoadWipePolicy(
        OFFBOARD_TESTDATA_DIR "/../../policies/nist-800-88-clear.textproto");
    offboard::v1::OrderedDataset* dataset = order.add_datasets();
    dataset->set_dataset_id("accounts");
    dataset->set_classification("confidential");
    offboard::v1::ExpectedFile* file = dataset->add_files();
    file->set_path("accounts.csv");
    file->set_size(sizeof(kSecret) - 1);
    file->set_sha256(common::DigestHex(common::Sha256Of(std::string(kSecret))));
    return order;
  }

  offboard::v1::SignedWipeOrder Signed(const offboard::v1::WipeOrder& order,
                                       const common::Ed25519PrivateKey& key) const {
    offboard::v1::SignedWipeOrder signed_order;
    signed_order.set_order_id(order.order_id());
    signed_order.set_envelope(common::SignWipeOrder(order, key));
    return signed_order;
  }

  OrderResult Run(const offboard::v1::SignedWipeOrder& signed_order, int64_t now = kNow,
                  size_t max_envelope_bytes = 0) {
    OrderRunner runner({.data_dir = temp_.path() / "agent",
                        .agent_id = "agent-1",
                        .vendor_id = "vendor-a",
                        .controller_key = controller_.PublicKey(),
                        .roots = {(temp_.path() / "root").string()},
                        .threads = 1,
                        .agent_version = "test",
                        .approve_plan = false,
                        .max_envelope_bytes = max_envelope_bytes},
                       outbox_);
    return runner.Run(signed_order, now, [this](const offboard::v1::HeartbeatRequest& beat) {
      phases_.push_back(beat.phase());
    });
  }

  void ExpectNothingTouched() {
    EXPECT_TRUE(fs::exists(temp_.path() / "root/copy.csv"));
    EXPECT_TRUE(fs::exists(temp_.path() / "root/renamed.bak"));
    EXPECT_TRUE(outbox_.Pending()->empty());
    EXPECT_TRUE(phases_.empty());
  }

  testing::TempDir temp_;
  common::Ed25519PrivateKey controller_ = *common::Ed25519PrivateKey::Generate();
  Outbox outbox_{temp_.path() / "agent"};
  std::vector<offboard::v1::AgentPhase> phases_;
};

TEST_F(OrderRunnerTest, AValidOrderIsWipedAttestedAndNotRunTwice) {
  const OrderResult result = Run(Signed(Order(), controller_));
  ASSERT_EQ(result.outcome, OrderOutcome::kWipedComplete) << result.message;
  EXPECT_FALSE(fs::exists(temp_.path() / "root/copy.csv"));
  EXPECT_FALSE(fs::exists(temp_.path() / "root/renamed.bak"));
  EXPECT_TRUE(fs::exists(temp_.path() / "root/unrelated.txt"));
  EXPECT_EQ(*outbox_.Pending(), std::vector<std::string>{"order-1"});
  EXPECT_NE(outbox_.Read("order-1")->find("payloadType"), std::string::npos);
  EXPECT_TRUE(fs::exists(temp_.path() / "agent/orders/order-1/report.json"));
  EXPECT_EQ(phases_.front(), offboard::v1::AGENT_PHASE_SCANNING);
  EXPECT_EQ(phases_.back(), offboard::v1::AGENT_PHASE_ATTESTING);

  // Pulled again (the controller still lists it): not run again.
  phases_.clear();
  const OrderResult again = Run(Signed(Order(), controller_));
  EXPECT_TRUE(again.already_done);
  EXPECT_EQ(again.outcome, OrderOutcome::kWipedComplete);
  EXPECT_TRUE(phases_.empty());
}

// An attestation over what one message may carry is queued in parts, each
// signed and small enough, which together hold every item once and answer
// the order by the controller's rules; a crash before the order was marked
// done queues the very same parts again.
TEST_F(OrderRunnerTest, ALargeAttestationIsQueuedInPartsThatAnswerTheOrder) {
  for (int i = 0; i < 60; ++i)
    temp_.WriteFile(absl::StrCat("root/copies/copy-", i, ".csv"), kSecret);
  constexpr size_t kMax = 12 << 10;
  const OrderResult result = Run(Signed(Order(), controller_), kNow, kMax);
  ASSERT_EQ(result.outcome, OrderOutcome::kWipedComplete) << result.message;
  const std::vector<std::string> entries = *outbox_.Pending();
  ASSERT_GT(entries.size(), 2u);
  const common::Ed25519PublicKey agent_key =
      LoadOrCreateAttestationKey(temp_.path() / "agent")->key.PublicKey();
  common::DsseVerifier verifier({{agent_key.KeyId(), agent_key}}, 1,
                                {std::string(common::kInTotoPayloadType)});
  common::AnsweredOrders answered;
  std::set<std::string> paths;
  std::vector<std::string> parts;
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i], PartEntry("order-1", i + 1, entries.size()));
    EXPECT_EQ(OrderOfEntry(entries[i]), "order-1");
    parts.push_back(*outbox_.Read(entries[i]));
    EXPECT_LE(parts.back().size(), kMax);
    const absl::StatusOr<common::VerifiedPayload> verified = verifier.Verify(parts.back());
    ASSERT_TRUE(verified.ok()) << verified.status();
    const common::InTotoStatement statement = *common::ParseStatement(verified->payload);
    const absl::StatusOr<common::CheckedItems> items =
        common::CheckAttestedItems({.order_id = "order-1",
                                    .agent_id = "agent-1",
                                    .host_id = "host-1",
                                    .predicate = statement.predicate});
    ASSERT_TRUE(items.ok()) << items.status();
    EXPECT_EQ(items->part,
              (common::AttestationPart{.index = static_cast<uint32_t>(i + 1),
                                       .count = static_cast<uint32_t>(entries.size())}));
    EXPECT_FALSE(answered.Answered("order-1"));
    answered.Add("order-1", items->run_id, items->part);
    for (const common::AttestedCopy& copy : items->copies) {
      EXPECT_EQ(copy.status, common::CopyStatus::kWiped);
      EXPECT_TRUE(paths.insert(copy.path).second) << copy.path << " in two parts";
    }
  }
  EXPECT_TRUE(answered.Answered("order-1"));
  EXPECT_EQ(paths.size(), 62u);  // the two copies of SetUp and sixty more

  // Lost before the order was marked done: the finished run is handed on
  // again, in the same parts.
  for (const std::string& entry : entries) fs::remove(outbox_.EntryPath(entry));
  fs::remove(temp_.path() / "agent/orders/order-1/done");
  ASSERT_EQ(Run(Signed(Order(), controller_), kNow, kMax).outcome, OrderOutcome::kWipedComplete);
  ASSERT_EQ(*outbox_.Pending(), entries);
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(*outbox_.Read(entries[i]), parts[i]);
}

// A limit too small for even one item and the run's facts: the attestation
// is queued whole (the outbox sets aside what no message carries), not left
// behind by a run that would fail alike on every retry.
TEST_F(OrderRunnerTest, AnAttestationThatCannotBeCutIsQueuedWhole) {
  const OrderResult result = Run(Signed(Order(), controller_), kNow, 1500);
  ASSERT_EQ(result.outcome, OrderOutcome::kWipedComplete) << result.message;
  EXPECT_EQ(*outbox_.Pending(), std::vector<std::string>{"order-1"});
  EXPECT_GT(outbox_.Read("order-1")->size(), 1500u);
}

TEST_F(OrderRunnerTest, AForgedOrderIsRefusedAndNothingIsTouched) {
  const common::Ed25519PrivateKey forger = *common::Ed25519PrivateKey::Generate();
  const OrderResult result = Run(Signed(Order(), forger));
  EXPECT_EQ(result.outcome, OrderOutcome::kRefused);
  ExpectNothingTouched();
}

TEST_F(OrderRunnerTest, AnExpiredOrderIsRefused) {
  const OrderResult result = Run(Signed(Order(), controller_), kNow + 7200);
  EXPECT_EQ(result.outcome, OrderOutcome::kRefused);
  EXPECT_NE(result.message.find("FAILED_PRECONDITION"), std::string::npos) << result.message;
  ExpectNothingTouched();
}

TEST_F(OrderRunnerTest, AnOrderForAnotherAgentOrVendorIsRefused) {
  offboard::v1::WipeOrder other_agent = Order();
  other_agent.set_agent_id("agent-2");
  EXPECT_EQ(Run(Signed(other_agent, controller_)).outcome, OrderOutcome::kRefused);
  offboard::v1::WipeOrder other_vendor = Order();
  other_vendor.set_vendor_id("vendor-b");
  EXPECT_EQ(Run(Signed(other_vendor, controller_)).outcome, OrderOutcome::kRefused);
  ExpectNothingTouched();
}

TEST_F(OrderRunnerTest, AMismatchedConvenienceIdIsRefused) {
  offboard::v1::SignedWipeOrder signed_order = Signed(Order(), controller_);
  signed_order.set_order_id("order-2");
  EXPECT_EQ(Run(signed_order).outcome, OrderOutcome::kRefused);
  ExpectNothingTouched();
}

TEST_F(OrderRunnerTest, ABadDigestInTheOrderIsRefused) {
  offboard::v1::WipeOrder order = Order();
  order.mutable_datasets(0)->mutable_files(0)->set_sha256("ABC");
  const OrderResult result = Run(Signed(order, controller_));
  EXPECT_EQ(result.outcome, OrderOutcome::kRefused);
  EXPECT_NE(result.message.find("sha256"), std::string::npos) << result.message;
  ExpectNothingTouched();
}

// Killed after the wipe, before the attestation reached the outbox, and
// restarted once the order has expired: the run is handed out again, not
// refused, so the data already destroyed is attested.
TEST_F(OrderRunnerTest, AFinishedRunIsAttestedEvenAfterTheOrderExpired) {
  ASSERT_EQ(Run(Signed(Order(), controller_)).outcome, OrderOutcome::kWipedComplete);
  const std::string attestation = *outbox_.Read("order-1");
  fs::remove(temp_.path() / "agent/orders/order-1/done");
  fs::remove_all(temp_.path() / "agent/outbox");
  const OrderResult late = Run(Signed(Order(), controller_), kNow + 7200);
  EXPECT_EQ(late.outcome, OrderOutcome::kWipedComplete) << late.message;
  EXPECT_EQ(*outbox_.Read("order-1"), attestation);
}

// Killed in the middle of the wipe and restarted after expiry: the journal's
// run is finished and attested; it does not sit there blocking every later
// order.
TEST_F(OrderRunnerTest, AnInterruptedRunIsFinishedEvenAfterTheOrderExpired) {
  ASSERT_EQ(Run(Signed(Order(), controller_)).outcome, OrderOutcome::kWipedComplete);
  // Turn the finished run back into one interrupted after its first record.
  const fs::path kept = fs::directory_iterator(temp_.path() / "agent/journal")->path();
  std::string journal = *common::ReadFileToString(kept);
  journal.resize(journal.find('\n') + 1);
  temp_.WriteFile("agent/wipe-journal.jsonl", journal);
  fs::remove_all(temp_.path() / "agent/journal");
  fs::remove_all(temp_.path() / "agent/reports");
  fs::remove(temp_.path() / "agent/orders/order-1/done");
  fs::remove_all(temp_.path() / "agent/outbox");
  const OrderResult late = Run(Signed(Order(), controller_), kNow + 7200);
  EXPECT_NE(late.outcome, OrderOutcome::kRefused) << late.message;
  EXPECT_NE(late.outcome, OrderOutcome::kFailed) << late.message;
  EXPECT_FALSE(fs::exists(temp_.path() / "agent/wipe-journal.jsonl"));
  EXPECT_TRUE(outbox_.Read("order-1").ok());
  // A fresh order after expiry is still refused.
  offboard::v1::WipeOrder other = Order();
  other.set_order_id("order-2");
  EXPECT_EQ(Run(Signed(other, controller_), kNow + 7200).outcome, OrderOutcome::kRefused);
}

}  // namespace
}  // namespace offboard::agent
