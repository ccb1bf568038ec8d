#include "agent/service/agent_loop.h"

#include <sys/resource.h>

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <ctime>
#include <iostream>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/identity/decommission_record.h"
#include "agent/service/controller_client.h"
#include "agent/service/enrollment.h"
#include "agent/service/order_runner.h"
#include "agent/service/outbox.h"
#include "agent/service/plan_approval.h"
#include "agent/wipe/confined_file.h"
#include "common/io/read_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kInitialBackoff{1000};
constexpr milliseconds kMaxBackoff{60000};
// How often a loop with plans waiting for approval looks for an approval.
constexpr milliseconds kApprovalPoll{1000};

// Every file queued for the scanner's threads keeps its directory open.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

const char* OutcomeName(const OrderResult& result) {
  switch (result.outcome) {
    case OrderOutcome::kWipedComplete:
      return "wiped";
    case OrderOutcome::kWipedIncomplete:
      return "wiped incompletely";
    case OrderOutcome::kRefused:
      return "REFUSED";
    case OrderOutcome::kFailed:
      return "failed";
    case OrderOutcome::kAwaitingApproval:
      return "awaiting approval";
  }
  return "?";
}

// What one round of --once must show for exit 0.
struct RoundState {
  std::vector<std::string> orders;  // wiped this round or earlier, to be delivered
  std::vector<std::string> awaiting_approval;
  bool all_good = true;
};

// The order's approval file as it is now ("" when there is none), to notice
// when a person approved.
std::string ApprovalSnapshot(const fs::path& data_dir, const std::string& order_id) {
  if (!IsSafeOrderId(order_id)) return "";
  absl::StatusOr<std::string> text =
      common::ReadFileToString(ApprovalPath(data_dir, order_id), 1 << 20);
  return text.ok() ? *std::move(text) : "";
}

}  // namespace

absl::StatusOr<AgentLoopResult> RunAgentLoop(const AgentLoopOptions& options, StopSignal& stop,
                                             std::ostream& out) {
  const fs::path data_dir = fs::absolute(options.data_dir);
  OFFBOARD_ASSIGN_OR_RETURN(Enrollment enrollment, LoadEnrollment(data_dir));
  std::vector<std::string> roots;
  for (const std::string& root : options.roots) {
    OFFBOARD_ASSIGN_OR_RETURN(WipeRoot opened, WipeRoot::Open(fs::absolute(root)));
    roots.push_back(opened.path());
  }
  if (roots.empty()) return absl::InvalidArgumentError("no --root given");
  RaiseDescriptorLimit();
  OFFBOARD_ASSIGN_OR_RETURN(ControllerClient client,
                            ControllerClient::Connect(enrollment.endpoint, enrollment.credentials));
  Outbox outbox(data_dir);
  OrderRunner runner({.data_dir = data_dir,
                      .agent_id = enrollment.agent_id,
                      .vendor_id = enrollment.vendor_id,
                      .controller_key = enrollment.controller_key,
                      .roots = roots,
                      .cross_filesystems = options.cross_filesystems,
                      .threads = options.threads,
                      .agent_version = options.agent_version,
                      .approve_plan = options.approve_plan,
                      .max_envelope_bytes = options.max_attestation_bytes},
                     outbox);
  common::AuditEvent("agent_started", {{"agent_id", enrollment.agent_id},
                                       {"vendor_id", enrollment.vendor_id},
                                       {"controller", enrollment.endpoint.address},
                                       {"once", options.once ? "true" : "false"},
                                       {"approve_plan", options.approve_plan ? "true" : "false"}});
  const HeartbeatFunction heartbeat = [&client](const offboard::v1::HeartbeatRequest& request) {
    // Progress is informational: a lost heartbeat changes nothing.
    (void)client.Heartbeat(request);
  };
  const SubmitFunction submit = [&client](const std::string& order_id,
                                          const std::string& envelope) {
    return client.Submit(order_id, envelope);
  };
  const auto stop_requested = [&stop] { return stop.requested(); };

  Backoff backoff(kInitialBackoff, kMaxBackoff);
  const steady_clock::time_point started = steady_clock::now();
  const auto once_window_over = [&] {
    return steady_clock::now() - started >= options.once_retry_window;
  };
  // Waits before the next attempt; false when the agent should stop instead.
  const auto wait_to_retry = [&](const absl::Status& why) {
    const milliseconds delay = backoff.Next();
    std::cerr << "offboard-agent run: "
              << (IsTransient(why) ? "controller unreachable" : "controller refused the call")
              << ", retrying in " << delay.count() << " ms: " << why.message() << "\n";
    return stop.SleepFor(delay);
  };
  // Orders whose plans wait for approval, with their approval file as it was
  // before the plan was made: they are scanned again only once it changes.
  std::map<std::string, std::string> held;
  const auto approval_changed = [&] {
    for (const auto& [order_id, seen] : held) {
      if (ApprovalSnapshot(data_dir, order_id) != seen) return true;
    }
    return false;
  };
  // Sleeps `wait`, but while plans wait for approval, wakes every second to
  // act on an approval at once. False when the agent should stop instead.
  const auto sleep_between_rounds = [&](milliseconds wait) {
    if (held.empty()) return stop.SleepFor(wait);
    const steady_clock::time_point until = steady_clock::now() + wait;
    for (steady_clock::time_point now = steady_clock::now(); now < until;
         now = steady_clock::now()) {
      const milliseconds left = std::chrono::duration_cast<milliseconds>(until - now);
      if (!stop.SleepFor(std::min(kApprovalPoll, left))) return false;
      if (approval_changed()) return true;
    }
    return true;
  };

  while (!stop.requested()) {
    // A decommissioned agent has no keys and no identity left: stop for good.
    OFFBOARD_RETURN_IF_ERROR(CheckNotDecommissioned(data_dir));
    absl::StatusOr<offboard::v1::PullOrdersResponse> pulled = client.PullOrders();
    if (!pulled.ok()) {
      if (options.once && (!IsTransient(pulled.status()) || once_window_over())) {
        return pulled.status();
      }
      if (!wait_to_retry(pulled.status())) break;
      continue;
    }
    RoundState round;
    for (const offboard::v1::SignedWipeOrder& signed_order : pulled->orders()) {
      if (stop.requested()) break;
      const std::string& order_id = signed_order.order_id();
      const std::string approval_before = ApprovalSnapshot(data_dir, order_id);
      if (auto it = held.find(order_id); it != held.end() && it->second == approval_before) {
        offboard::v1::HeartbeatRequest waiting;  // still waiting; nothing to scan again
        waiting.set_order_id(order_id);
        waiting.set_phase(offboard::v1::AGENT_PHASE_WAITING_APPROVAL);
        heartbeat(waiting);
        continue;
      }
      const OrderResult result = runner.Run(signed_order, std::time(nullptr), heartbeat);
      if (result.outcome == OrderOutcome::kAwaitingApproval) {
        held[order_id] = approval_before;
        round.awaiting_approval.push_back(result.order_id);
      } else {
        held.erase(order_id);
      }
      if (!result.already_done || result.outcome != OrderOutcome::kWipedComplete) {
        out << "order " << result.order_id << ": " << OutcomeName(result)
            << (result.message.empty() ? "" : ": ") << result.message << std::endl;
      }
      if (result.outcome != OrderOutcome::kWipedComplete) round.all_good = false;
      if (result.outcome == OrderOutcome::kWipedComplete ||
          result.outcome == OrderOutcome::kWipedIncomplete) {
        round.orders.push_back(result.order_id);
      }
    }

    // Deliver whatever waits, this round's attestations and older ones.
    bool transient_failure = false;
    while (!stop.requested()) {
      const DeliveryReport delivery =
          DeliverOutbox(outbox, submit, enrollment.controller_key, stop_requested);
      std::set<std::string> done_orders;
      for (const std::string& entry : delivery.delivered) {
        const std::string order_id = OrderOfEntry(entry);
        out << "order " << order_id << ": attestation " << (entry == order_id ? "" : entry + " ")
            << "delivered, receipt " << outbox.ReceiptPath(entry).string() << std::endl;
        // Done once every part has its receipt, and said once.
        if (outbox.HasReceipt(order_id) && done_orders.insert(order_id).second) {
          offboard::v1::HeartbeatRequest done;
          done.set_order_id(order_id);
          done.set_phase(offboard::v1::AGENT_PHASE_DONE);
          heartbeat(done);
        }
      }
      if (!delivery.refused.empty()) round.all_good = false;
      for (const auto& [entry, reason] : delivery.refused) {
        const std::string order_id = OrderOfEntry(entry);
        out << "order " << order_id << ": attestation " << (entry == order_id ? "" : entry + " ")
            << "REFUSED by the controller: " << reason << " (kept in "
            << outbox.RefusedPath(entry).string() << ")" << std::endl;
      }
      if (!delivery.local.ok()) return delivery.local;
      transient_failure = !delivery.transient.ok();
      if (!transient_failure) {
        backoff.Reset();
        break;
      }
      if (!options.once || once_window_over()) break;
      if (!wait_to_retry(delivery.transient)) break;
    }

    if (options.once) {
      bool all_good = round.all_good && !stop.requested();
      for (const std::string& order_id : round.orders) {
        if (!outbox.HasReceipt(order_id) || outbox.WasRefused(order_id)) all_good = false;
      }
      absl::StatusOr<std::vector<std::string>> pending = outbox.Pending();
      if (!pending.ok() || !pending->empty()) all_good = false;
      if (transient_failure) {
        out << "attestations left in " << (data_dir / "outbox").string()
            << " for the next run: the controller stayed unreachable" << std::endl;
      }
      return AgentLoopResult{.all_done = all_good,
                             .awaiting_approval = std::move(round.awaiting_approval)};
    }
    const milliseconds wait =
        transient_failure ? backoff.Next() : milliseconds(options.poll_interval);
    if (!sleep_between_rounds(wait)) break;
  }
  common::AuditEvent("agent_stopped", {{"agent_id", enrollment.agent_id}});
  return AgentLoopResult{};
}

}  // namespace offboard::agent
