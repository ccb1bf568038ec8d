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
//   std::vector<Enrollment> to_ask = AgentsWithoutOrder(r.agents, host_orders);
//
// Pure functions: thread-safe.
#ifndef OFFBOARD_COMMON_RECONCILE_ORDER_RECIPIENTS_H_
#define OFFBOARD_COMMON_RECONCILE_ORDER_RECIPIENTS_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/reconcile/reconciler.h"
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

// The recipients with no order to answer, in their order: their host
// answered none of the contract's `orders` (by any of its agents), and no
// order is addressed to them. An order to an agent since superseded on its
// host does not count: only the latest agent will ever answer.
// Reconciliation counts every order as asking (`open_at` empty); `terminate`
// only those still open at `open_at` (expires_at >= open_at), so that a host
// whose orders all expired unanswered is asked again.
template <typename Enrollment>
std::vector<Enrollment> AgentsWithoutOrder(const std::vector<Enrollment>& recipients,
                                           const std::vector<HostOrder>& orders,
                                           std::optional<int64_t> open_at = std::nullopt) {
  std::set<HostRef> answered_hosts;
  std::set<std::string> asked_agents;
  for (const HostOrder& order : orders) {
    if (order.answered) answered_hosts.insert({order.vendor_id, order.host_id});
    if (!open_at || order.expires_at >= *open_at) asked_agents.insert(order.agent_id);
  }
  std::vector<Enrollment> missing;
  for (const Enrollment& agent : recipients) {
    if (answered_hosts.contains({agent.vendor_id, agent.host_id}) ||
        asked_agents.contains(agent.agent_id)) {
      continue;
    }
    missing.push_back(agent);
  }
  return missing;
}

// The hosts of AgentsWithoutOrder, as reconciliation lists them.
template <typename Enrollment>
std::vector<HostRef> HostsOf(const std::vector<Enrollment>& agents) {
  std::vector<HostRef> hosts;
  for (const Enrollment& agent : agents) hosts.push_back({agent.vendor_id, agent.host_id});
  return hosts;
}

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RECONCILE_ORDER_RECIPIENTS_H_
