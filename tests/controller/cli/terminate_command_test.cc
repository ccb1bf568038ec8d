// `offboard-controller terminate`, first and again: which hosts it asks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/cli/controller_cli.h"
#include "tests/verify/evidence_fixture.h"

namespace offboard::controller {
namespace {

using ::testing::ElementsAre;

class TerminateCommandTest : public testing::EvidenceFixture {
 protected:
  void SetUp() override {
    EvidenceFixture::SetUp();
    AddInventoryFile("c-1", "exports/a.csv", std::string(64, 'a'));
  }

  // Runs `terminate` for c-1; its exit code.
  int Terminate(const std::vector<std::string>& extra = {}, const std::string& contract = "c-1") {
    std::vector<std::string> args = {"offboard-controller",
                                     "terminate",
                                     "--data-dir",
                                     home_->paths.dir.string(),
                                     "--contract",
                                     contract,
                                     "--policy",
                                     OFFBOARD_POLICY_DIR "/nist-800-88-clear.textproto"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    return RunControllerCli(static_cast<int>(argv.size()), argv.data());
  }

  std::vector<OrderRow> Orders() {
    absl::StatusOr<std::vector<OrderRow>> orders = home_->store->OrdersForContract("c-1");
    EXPECT_TRUE(orders.ok()) << orders.status();
    return orders.ok() ? *std::move(orders) : std::vector<OrderRow>{};
  }

  // The agents c-1's orders went to, sorted.
  std::vector<std::string> OrderedAgents() {
    std::vector<std::string> agents;
    for (const OrderRow& order : Orders()) agents.push_back(order.agent_id);
    std::sort(agents.begin(), agents.end());
    return agents;
  }

  // `terminate` runs on the real clock and asks only hosts enrolled by then.
  testing::TestAgent EnrollHoursAgo(const std::string& vendor, const std::string& host,
                                    int hours = 2) {
    return Enroll(vendor, host, static_cast<int64_t>(std::time(nullptr)) - hours * 3600);
  }

  static std::vector<std::string> Sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};

TEST_F(TerminateCommandTest, AgainItAsksOnlyTheHostsWithNoOrderToAnswer) {
  const testing::TestAgent host1 = EnrollHoursAgo("vendor-a", "host-1");
  const testing::TestAgent host2 = EnrollHoursAgo("vendor-a", "host-2");
  ASSERT_EQ(Terminate(), 0);
  EXPECT_EQ(OrderedAgents(), Sorted({host1.agent_id, host2.agent_id}));

  // Every host holds an open order: nothing to issue, exit 2.
  EXPECT_EQ(Terminate(), 2);
  EXPECT_EQ(OrderedAgents().size(), 2u);

  // A host enrolled since, and one enrolled again (a new agent replaces the
  // one its open order went to): both asked, nobody else.
  const testing::TestAgent host3 = EnrollHoursAgo("vendor-a", "host-3");
  const testing::TestAgent host1_again = EnrollHoursAgo("vendor-a", "host-1", 1);
  ASSERT_EQ(Terminate(), 0);
  EXPECT_EQ(OrderedAgents(),
            Sorted({host1.agent_id, host2.agent_id, host3.agent_id, host1_again.agent_id}));

  // A host whose only order expired unanswered is asked anew.
  const testing::TestAgent host4 = EnrollHoursAgo("vendor-a", "host-4");
  IssueOrder(host4, "c-1", static_cast<int64_t>(std::time(nullptr)) - 7200);
  ASSERT_EQ(Terminate(), 0);
  std::vector<std::string> to_host4;
  for (const OrderRow& order : Orders()) {
    if (order.host_id == "host-4") to_host4.push_back(order.agent_id);
  }
  EXPECT_THAT(to_host4, ElementsAre(host4.agent_id, host4.agent_id));
  EXPECT_EQ(Terminate(), 2);
}

// A host whose enrollment is dated later than the run's own time (the clock
// was set back since it enrolled) is left for the next run: an order to it
// would predate its enrollment.
// A host reinstalled meanwhile is left alone too: its old agent will never
// answer, and the new one is asked by the next run.
TEST_F(TerminateCommandTest, AnEnrollmentDatedAfterTheRunsTimeIsLeftForTheNext) {
  const int64_t later = static_cast<int64_t>(std::time(nullptr)) + 3600;
  const testing::TestAgent host1 = EnrollHoursAgo("vendor-a", "host-1");
  Enroll("vendor-a", "host-2", later);
  EnrollHoursAgo("vendor-a", "host-3");
  Enroll("vendor-a", "host-3", later);
  ASSERT_EQ(Terminate(), 0);
  EXPECT_THAT(OrderedAgents(), ElementsAre(host1.agent_id));
}

// A mistyped deadline is what the user hears of first, whatever else the
// run would meet (here: a contract with no inventory).
TEST_F(TerminateCommandTest, AMistypedDeadlineIsReportedBeforeAnythingElse) {
  ::testing::internal::CaptureStderr();
  const int exit_code = Terminate({"--deadline", "7x"}, "c-unknown");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(exit_code, 2);
  EXPECT_THAT(err, ::testing::HasSubstr("--deadline '7x'"));
  EXPECT_TRUE(Orders().empty());
}

// A vendor asked before whose hosts were all decommissioned since is
// skipped; a vendor never asked, with no agent, still stops the run.
TEST_F(TerminateCommandTest, AVendorWithNobodyLeftToAskIsSkippedOnlyIfAskedBefore) {
  ASSERT_TRUE(home_->store
                  ->ImportInventory(
                      {{"c-1", "vendor-b", "ds-b", "secret", "b.csv", 3, std::string(64, 'b')}}, {})
                  .ok());
  EnrollHoursAgo("vendor-a", "host-1");
  EXPECT_EQ(Terminate(), 2);  // vendor-b has no agent
  EXPECT_TRUE(OrderedAgents().empty());

  const testing::TestAgent host_b = EnrollHoursAgo("vendor-b", "host-b");
  ASSERT_EQ(Terminate(), 0);
  ASSERT_EQ(OrderedAgents().size(), 2u);
  ASSERT_TRUE(home_->store->BanAgent(host_b.agent_id, testing::kEvidenceNow).ok());
  const testing::TestAgent late = EnrollHoursAgo("vendor-a", "host-2");
  ASSERT_EQ(Terminate(), 0);
  EXPECT_EQ(OrderedAgents().size(), 3u);
}

}  // namespace
}  // namespace offboard::controller
