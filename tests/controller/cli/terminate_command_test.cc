// Who gets a wipe order: one agent per host, the latest enrolled, never a
// banned one.
#include "controller/cli/terminate_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace offboard::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

Enrollment Enrolled(std::string agent, std::string host, int64_t at, bool banned = false) {
  Enrollment e;
  e.agent_id = std::move(agent);
  e.vendor_id = "vendor-a";
  e.host_id = std::move(host);
  e.enrolled_at = at;
  e.banned = banned;
  return e;
}

MATCHER_P(Agent, id, "") { return arg.agent_id == id; }

TEST(SelectOrderRecipientsTest, OneAgentPerHostTheLatestEnrolled) {
  const OrderRecipients r = SelectOrderRecipients({
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
  const OrderRecipients r = SelectOrderRecipients({
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
  const OrderRecipients one = SelectOrderRecipients(
      {Enrolled("agent-x", "host-1", 100), Enrolled("agent-y", "host-1", 100)});
  const OrderRecipients other = SelectOrderRecipients(
      {Enrolled("agent-y", "host-1", 100), Enrolled("agent-x", "host-1", 100)});
  ASSERT_EQ(one.agents.size(), 1u);
  ASSERT_EQ(other.agents.size(), 1u);
  EXPECT_EQ(one.agents[0].agent_id, other.agents[0].agent_id);
  EXPECT_THAT(SelectOrderRecipients({}).agents, IsEmpty());
}

}  // namespace
}  // namespace offboard::controller
