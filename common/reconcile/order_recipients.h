// Which enrolled hosts a contract's wipe orders go to, and which of them
// have none: `terminate` issues the orders by this rule, and reconciliation
// (in `status` and in the offline verifier) holds the verdict back while an
// enrolled host has no order to answer.
//
// The rule: one agent per (vendor, host), the one enrolled last (the host
// enrolled again when its agent was reinstalled, and only the new agent will
// ever answer); none for a host whose latest agent is banned
// (decommissioned). Works on any enrollment type with vendor_id, host_id,
// agent_id, enrolled_at and banned (the controller's store row and the
// evidence package's record):
//
//   OrderRecipients<Enrollment> r = SelectOrderRecipients(std::move(enrollments));
//   std::vector<HostRef> missing = HostsWithoutOrder(r.agents, hosts_with_orders);
//
// Pure functions: thread-safe.
#ifndef OFFBOARD_COMMON_RECONCILE_ORDER_RECIPIENTS_H_
#define OFFBOARD_COMMON_RECONCILE_ORDER_RECIPIENTS_H_

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "common/reconcile/reconciliation.h"

namespace offboard::common {

template <typename Enrollment>
struct OrderRecipients {
  std::vector<Enrollment> agents;      // ordered by vendor, then host
  std::vector<Enrollment> superseded;  // older agents of those hosts, not banned
};

template <typename Enrollment>
OrderRecipients<Enrollment> SelectOrderRecipients(std::vector<Enrollment> enrollments) {
  // Latest first within a host; the agent id breaks ties, so the choice is
  // the same every time. A banned latest agent leaves the host without an
  // order; the older ones are superseded anyway.
  std::sort(enrollments.begin(), enrollments.end(), [](const Enrollment& a, const Enrollment& b) {
    return std::tie(a.vendor_id, a.host_id, b.enrolled_at, b.agent_id) <
           std::tie(b.vendor_id, b.host_id, a.enrolled_at, a.agent_id);
  });
  OrderRecipients<Enrollment> recipients;
  std::optional<HostRef> host;  // of the previous enrollment
  for (Enrollment& enrollment : enrollments) {
    HostRef this_host{.vendor_id = enrollment.vendor_id, .host_id = enrollment.host_id};
    const bool latest_of_host = host != this_host;
    host = std::move(this_host);
    if (enrollment.banned) continue;
    (latest_of_host ? recipients.agents : recipients.superseded).push_back(std::move(enrollment));
  }
  return recipients;
}

// The recipients' hosts that hold no order among `ordered`, in their order.
template <typename Enrollment>
std::vector<HostRef> HostsWithoutOrder(const std::vector<Enrollment>& recipients,
                                       const std::set<HostRef>& ordered) {
  std::vector<HostRef> missing;
  for (const Enrollment& agent : recipients) {
    HostRef host{.vendor_id = agent.vendor_id, .host_id = agent.host_id};
    if (!ordered.contains(host)) missing.push_back(std::move(host));
  }
  return missing;
}

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RECONCILE_ORDER_RECIPIENTS_H_
