// Who gets a wipe order: one agent per host, the latest enrolled, never a
// banned one; and which enrolled hosts hold no order.
#include "common/reconcile/order_recipients.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/evidence/evidence_package.h"

namespace offboard::common {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

using Enrollments = std::vector<EnrollmentRecord>;
using Recipients = OrderRecipients<EnrollmentRecord>;

EnrollmentRecord Enrolled(std::string agent, std::string host, int64_t at, bool banned = false) {
  EnrollmentRecord e;
  e.agent_id = std::move(agent);
  e.vendor_id = "vendor-a";
  e.host_id = std::move(host);
  e.enrolled_at = at;
  e.banned = banned;
  return e;
}

MATCHER_P(Agent, id, "") { return arg.agent_id == id; }

TEST(SelectOrderRecipientsTest, OneAgentPerHostTheLatestEnrolled) {
  const Recipients r = SelectOrderRecipients(Enrollments{
      Enrolled("agent-old", "host-1", 100),
      Enrolled("agent-b", "host-2", 150),
      Enrolled("agent-new", "host-1", 300),  // the agent reinstalled on host-1
      Enrolled("agent-mid", "host-1", 200),
  });
  EXPECT_THAT(r.agents, ElementsAre(Agent("agent-new"), Agent("agent-b")));
  EXPECT_THAT(r.superseded, ElementsAre(Agent("agent-mid"), Agent("agent-old")));
}

// A host whose latest agent is banned (decommissioned) gets no order: not
// even its older, superseded agent, which would never answer.
TEST(SelectOrderRecipientsTest, AHostWhoseLatestAgentIsBannedGetsNoOrder) {
  const Recipients r = SelectOrderRecipients(Enrollments{
      Enrolled("agent-old", "host-1", 100),
      Enrolled("agent-new", "host-1", 300, /*banned=*/true),
      Enrolled("agent-gone", "host-2", 100, /*banned=*/true),
      Enrolled("agent-c", "host-3", 100),
      Enrolled("agent-c-old-banned", "host-3", 50, /*banned=*/true),
  });
  EXPECT_THAT(r.agents, ElementsAre(Agent("agent-c")));
  EXPECT_THAT(r.superseded, ElementsAre(Agent("agent-old")));
}

TEST(SelectOrderRecipientsTest, TiesAreBrokenTheSameWayWhateverTheOrder) {
  const Recipients one = SelectOrderRecipients(
      Enrollments{Enrolled("agent-x", "host-1", 100), Enrolled("agent-y", "host-1", 100)});
  const Recipients other = SelectOrderRecipients(
      Enrollments{Enrolled("agent-y", "host-1", 100), Enrolled("agent-x", "host-1", 100)});
  ASSERT_EQ(one.agents.size(), 1u);
  ASSERT_EQ(other.agents.size(), 1u);
  EXPECT_EQ(one.agents[0].agent_id, other.agents[0].agent_id);
  EXPECT_THAT(SelectOrderRecipients(Enrollments{}).agents, IsEmpty());
}

// The same host id under two vendors is two hosts.
TEST(SelectOrderRecipientsTest, HostsOfDifferentVendorsAreDistinct) {
  EnrollmentRecord other = Enrolled("agent-b", "host-1", 50);
  other.vendor_id = "vendor-b";
  const Recipients r =
      SelectOrderRecipients(Enrollments{Enrolled("agent-a", "host-1", 100), other});
  EXPECT_THAT(r.agents, ElementsAre(Agent("agent-a"), Agent("agent-b")));
  EXPECT_THAT(r.superseded, IsEmpty());
}

HostOrder Order(std::string agent, std::string host, bool answered, int64_t expires_at = 1000,
                std::string vendor = "vendor-a") {
  return {.order_id = "order-" + agent,
          .host_id = std::move(host),
          .agent_id = std::move(agent),
          .expires_at = expires_at,
          .answered = answered,
          .vendor_id = std::move(vendor),
          .issued_at = 100};
}

// A recipient is asked when its host answered an order (by any of its
// agents) or an order is addressed to it; an order to the host's older,
// superseded agent does not count: that agent will never answer.
TEST(AgentsWithoutOrderTest, TheRecipientsWithNoOrderToAnswer) {
  const Recipients r = SelectOrderRecipients(Enrollments{
      Enrolled("agent-1", "host-1", 100), Enrolled("agent-2", "host-2", 100),
      Enrolled("agent-3-old", "host-3", 100), Enrolled("agent-3", "host-3", 200),
      Enrolled("agent-4", "host-4", 100), Enrolled("agent-5", "host-5", 100, /*banned=*/true),
      Enrolled("agent-6", "host-6", 100)});
  const std::vector<HostOrder> orders{
      // host-1 answered through an agent since replaced
      Order("agent-1-old", "host-1", /*answered=*/true),
      // host-2 of vendor-b answered, not vendor-a's host-2
      Order("agent-b2", "host-2", /*answered=*/true, 1000, "vendor-b"),
      Order("agent-3-old", "host-3", /*answered=*/false),
      Order("agent-4", "host-4", /*answered=*/false),
      // expired unanswered: it still asks, for reconciliation
      Order("agent-6", "host-6", /*answered=*/false, /*expires_at=*/50)};
  const std::vector<EnrollmentRecord> missing = AgentsWithoutOrder(r.agents, orders);
  EXPECT_THAT(missing, ElementsAre(Agent("agent-2"), Agent("agent-3")));
  EXPECT_THAT(HostsOf(missing), ElementsAre(HostRef{.vendor_id = "vendor-a", .host_id = "host-2"},
                                            HostRef{.vendor_id = "vendor-a", .host_id = "host-3"}));
  EXPECT_THAT(AgentsWithoutOrder(Enrollments{}, {}), IsEmpty());
}

// For `terminate`, only an order still open asks: a host whose orders all
// expired unanswered is asked again; one that answered is not, even if that
// order has expired since.
TEST(AgentsWithoutOrderTest, WithOpenAtOnlyOpenOrdersAsk) {
  const Recipients r = SelectOrderRecipients(Enrollments{Enrolled("agent-1", "host-1", 100),
                                                         Enrolled("agent-2", "host-2", 100),
                                                         Enrolled("agent-3", "host-3", 100)});
  const std::vector<HostOrder> orders{
      Order("agent-1", "host-1", /*answered=*/true, /*expires_at=*/50),
      Order("agent-2", "host-2", /*answered=*/false, /*expires_at=*/50),
      Order("agent-3", "host-3", /*answered=*/false, /*expires_at=*/500)};
  EXPECT_THAT(AgentsWithoutOrder(r.agents, orders, /*open_at=*/500), ElementsAre(Agent("agent-2")));
  EXPECT_THAT(AgentsWithoutOrder(r.agents, orders, /*open_at=*/501),
              ElementsAre(Agent("agent-2"), Agent("agent-3")));
  EXPECT_THAT(AgentsWithoutOrder(r.agents, orders), IsEmpty());
}

}  // namespace
}  // namespace offboard::common
