// `run --approve-plan`: an order's plan waits for a person. Without an
// approval nothing is touched and the plan is written; an approval of another
// plan (files appeared since) wipes nothing and writes the fresh plan; an
// approval of the exact plan lets the wipe proceed, and the attestation names
// it. `approve` refuses an unknown order, one without a plan, or one done.
//
// The wipe engine runs only inside the test's temporary directory.
#include "agent/service/plan_approval.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/service/order_runner.h"
#include "common/cli/command_line.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/intoto/statement.h"
#include "common/io/read_file.h"
#include "common/policy/wipe_policy.h"
#include "common/signed/signed_messages.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;
using google::protobuf::util::TimeUtil;

constexpr int64_t kNow = 1800000000;
constexpr char kSecret[] = "account,balance\n1,100\n2,200\n";

class PlanApprovalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    temp_.WriteFile("root/copy.csv", kSecret);
    temp_.WriteFile("root/renamed.bak", kSecret);
    temp_.WriteFile("root/unrelated.txt", "keep me");
    fs::create_directories(data_dir_);
  }

  offboard::v1::SignedWipeOrder SignedOrder() const {
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
    offboard::v1::ExpectedFile* file = dataset->add_files();
    file->set_path("accounts.csv");
    file->set_size(sizeof(kSecret) - 1);
    file->set_sha256(common::DigestHex(common::Sha256Of(std::string(kSecret))));
    offboard::v1::SignedWipeOrder signed_order;
    signed_order.set_order_id(order.order_id());
    signed_order.set_envelope(common::SignWipeOrder(order, controller_));
    return signed_order;
  }

  OrderResult Run() {
    OrderRunner runner({.data_dir = data_dir_,
                        .agent_id = "agent-1",
                        .vendor_id = "vendor-a",
                        .controller_key = controller_.PublicKey(),
                        .roots = {(temp_.path() / "root").string()},
                        .threads = 1,
                        .agent_version = "test",
                        .approve_plan = true},
                       outbox_);
    phases_.clear();
    return runner.Run(SignedOrder(), kNow, [this](const offboard::v1::HeartbeatRequest& beat) {
      phases_.push_back(beat.phase());
    });
  }

  std::string Plan() const { return *common::ReadFileToString(PlanPath(data_dir_, "order-1")); }

  void ExpectNothingWiped(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      EXPECT_EQ(*common::ReadFileToString(temp_.path() / "root" / name), kSecret) << name;
    }
    EXPECT_TRUE(outbox_.Pending()->empty());
    EXPECT_FALSE(fs::exists(data_dir_ / "orders/order-1/done"));
    // Nothing was journaled: no wipe step was even announced.
    const fs::path journal = data_dir_ / "wipe-journal.jsonl";
    EXPECT_TRUE(!fs::exists(journal) || fs::file_size(journal) == 0);
    EXPECT_FALSE(fs::exists(data_dir_ / "journal"));
    EXPECT_EQ(std::count(phases_.begin(), phases_.end(), offboard::v1::AGENT_PHASE_WIPING), 0);
    EXPECT_EQ(phases_.back(), offboard::v1::AGENT_PHASE_WAITING_APPROVAL);
  }

  testing::TempDir temp_;
  fs::path data_dir_ = temp_.path() / "agent";
  common::Ed25519PrivateKey controller_ = *common::Ed25519PrivateKey::Generate();
  Outbox outbox_{temp_.path() / "agent"};
  std::vector<offboard::v1::AgentPhase> phases_;
};

TEST_F(PlanApprovalTest, WithoutApprovalNothingIsTouchedAndThePlanIsWritten) {
  const OrderResult result = Run();
  ASSERT_EQ(result.outcome, OrderOutcome::kAwaitingApproval) << result.message;
  EXPECT_NE(result.message.find("offboard-agent approve order-1 --data-dir " + data_dir_.string()),
            std::string::npos)
      << result.message;
  ExpectNothingWiped({"copy.csv", "renamed.bak"});

  const std::string text = Plan();
  const nlohmann::json plan = nlohmann::json::parse(text);
  EXPECT_EQ(plan["order_id"], "order-1");
  EXPECT_EQ(plan["contract_id"], "c-1");
  EXPECT_EQ(plan["policy"]["name"], "nist-800-88-clear");
  EXPECT_EQ(plan["counts"]["targets"], 2);
  EXPECT_EQ(plan["counts"]["files"], 2);
  EXPECT_EQ(plan["counts"]["archive_members"], 0);
  EXPECT_EQ(plan["counts"]["actions"]["wipe_file"], 2);
  ASSERT_EQ(plan["targets"].size(), 2u);
  EXPECT_EQ(plan["targets"][0]["action"], "wipe_file");
  EXPECT_NE(plan["targets"][0]["path"].get<std::string>().find("copy.csv"), std::string::npos);
  const std::string described = DescribePlanDocument(plan, 20);
  EXPECT_NE(described.find("2 files on disk to act on: 2 wipe_file"), std::string::npos)
      << described;
  EXPECT_NE(described.find("2 whole files, 0 archive members, 0 derived copies"), std::string::npos)
      << described;

  // Asked again without an approval: still waiting, and the same plan gives
  // the same bytes (the approval's hash depends on it).
  EXPECT_EQ(Run().outcome, OrderOutcome::kAwaitingApproval);
  EXPECT_EQ(Plan(), text);
  ExpectNothingWiped({"copy.csv", "renamed.bak"});
}

TEST_F(PlanApprovalTest, AnApprovalOfAnotherPlanWipesNothingAndWritesTheFreshPlan) {
  ASSERT_EQ(Run().outcome, OrderOutcome::kAwaitingApproval);
  const std::string approved_plan = Plan();
  const absl::StatusOr<ApprovedPlan> approved =
      ApprovePlan(data_dir_, "order-1", "alice", "2027-01-15T08:00:00Z");
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->approval.plan_sha256, common::DigestHex(common::Sha256Of(approved_plan)));

  // A copy appears after the approval: the new scan's plan is not the one
  // that was approved, so nothing is wiped, the late copy included.
  temp_.WriteFile("root/late.csv", kSecret);
  const OrderResult result = Run();
  ASSERT_EQ(result.outcome, OrderOutcome::kAwaitingApproval) << result.message;
  EXPECT_NE(result.message.find("changed since it was approved"), std::string::npos)
      << result.message;
  ExpectNothingWiped({"copy.csv", "renamed.bak", "late.csv"});
  const std::string fresh = Plan();
  EXPECT_NE(fresh, approved_plan);
  EXPECT_EQ(nlohmann::json::parse(fresh)["counts"]["targets"], 3);
  EXPECT_NE(ReadApproval(data_dir_, "order-1")->plan_sha256,
            common::DigestHex(common::Sha256Of(fresh)));

  // An approval naming some other digest is no approval either.
  temp_.WriteFile("agent/orders/order-1/approval.json",
                  R"({"order_id": "order-1", "plan_sha256": ")" + std::string(64, '0') +
                      R"(", "approved_by": "mallory", "approved_at": "2027-01-15T08:00:00Z"})");
  EXPECT_EQ(Run().outcome, OrderOutcome::kAwaitingApproval);
  ExpectNothingWiped({"copy.csv", "renamed.bak", "late.csv"});
}

TEST_F(PlanApprovalTest, AnApprovedPlanIsWipedAndTheAttestationNamesTheApproval) {
  ASSERT_EQ(Run().outcome, OrderOutcome::kAwaitingApproval);
  const absl::StatusOr<ApprovedPlan> approved =
      ApprovePlan(data_dir_, "order-1", "alice", "2027-01-15T08:00:00Z");
  ASSERT_TRUE(approved.ok()) << approved.status();

  const OrderResult result = Run();
  ASSERT_EQ(result.outcome, OrderOutcome::kWipedComplete) << result.message;
  EXPECT_FALSE(fs::exists(temp_.path() / "root/copy.csv"));
  EXPECT_FALSE(fs::exists(temp_.path() / "root/renamed.bak"));
  EXPECT_TRUE(fs::exists(temp_.path() / "root/unrelated.txt"));
  EXPECT_EQ(std::count(phases_.begin(), phases_.end(), offboard::v1::AGENT_PHASE_WIPING), 1);
  EXPECT_EQ(std::count(phases_.begin(), phases_.end(), offboard::v1::AGENT_PHASE_WAITING_APPROVAL),
            0);

  const auto envelope = common::ParseDsseEnvelope(*outbox_.Read("order-1"));
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  const auto statement = common::ParseStatement(envelope->payload);
  ASSERT_TRUE(statement.ok()) << statement.status();
  const nlohmann::json& approval = statement->predicate["approval"];
  EXPECT_EQ(approval["approved_by"], "alice");
  EXPECT_EQ(approval["approved_at"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(approval["plan_sha256"], approved->approval.plan_sha256);
  // approve has nothing left to do for a finished order.
  EXPECT_EQ(ApprovePlan(data_dir_, "order-1", "alice", "2027-01-15T08:00:00Z").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PlanApprovalTest, WithoutApprovePlanThereIsNoApprovalInTheAttestation) {
  OrderRunner runner({.data_dir = data_dir_,
                      .agent_id = "agent-1",
                      .vendor_id = "vendor-a",
                      .controller_key = controller_.PublicKey(),
                      .roots = {(temp_.path() / "root").string()},
                      .threads = 1,
                      .agent_version = "test",
                      .approve_plan = false},
                     outbox_);
  const OrderResult result = runner.Run(SignedOrder(), kNow, [](const auto&) {});
  ASSERT_EQ(result.outcome, OrderOutcome::kWipedComplete) << result.message;
  EXPECT_FALSE(fs::exists(PlanPath(data_dir_, "order-1")));
  const auto envelope = common::ParseDsseEnvelope(*outbox_.Read("order-1"));
  ASSERT_TRUE(envelope.ok());
  EXPECT_FALSE(common::ParseStatement(envelope->payload)->predicate.contains("approval"));
}

TEST_F(PlanApprovalTest, ApproveRefusesUnknownOrdersAndOrdersWithoutAPlan) {
  const absl::StatusOr<ApprovedPlan> unknown =
      ApprovePlan(data_dir_, "order-404", "alice", "2027-01-15T08:00:00Z");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("order-404"), std::string::npos);
  EXPECT_EQ(common::ExitCodeFor(unknown.status()), common::kExitBadInput);

  fs::create_directories(data_dir_ / "orders/order-2");
  const absl::StatusOr<ApprovedPlan> no_plan =
      ApprovePlan(data_dir_, "order-2", "alice", "2027-01-15T08:00:00Z");
  EXPECT_EQ(no_plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_plan.status().message().find("order-2 has no plan yet"), std::string::npos)
      << no_plan.status();
  EXPECT_EQ(common::ExitCodeFor(no_plan.status()), common::kExitBadInput);

  EXPECT_EQ(ApprovePlan(data_dir_, "../order-1", "alice", "now").status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_EQ(Run().outcome, OrderOutcome::kAwaitingApproval);
  EXPECT_EQ(ApprovePlan(data_dir_, "order-1", "", "now").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A plan.json that is another order's is not approved under this one.
  fs::create_directories(data_dir_ / "orders/order-3");
  fs::copy_file(PlanPath(data_dir_, "order-1"), PlanPath(data_dir_, "order-3"));
  EXPECT_EQ(ApprovePlan(data_dir_, "order-3", "alice", "now").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(ApprovalPath(data_dir_, "order-1")));
  EXPECT_FALSE(fs::exists(ApprovalPath(data_dir_, "order-3")));
}

}  // namespace
}  // namespace offboard::agent
