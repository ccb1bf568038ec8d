// `offboard-agent run`: the agent as a service. Each round pulls this agent's
// orders over mutual TLS, runs each new one (agent/service/order_runner.h),
// and delivers the outbox (agent/service/outbox.h), sending heartbeats with
// the phase on the way. An unreachable controller is retried with
// exponential backoff and jitter (capped at 60 s); SIGTERM or SIGINT stops
// the loop between steps.
//
//   StopSignal stop;
//   OFFBOARD_ASSIGN_OR_RETURN(AgentLoopResult result, RunAgentLoop(options, stop, std::cout));
//
// With `once`, one round is done, and delivery is retried for up to
// `once_retry_window` while the controller is unreachable. With
// `approve_plan`, an order whose plan waits for a person's approval is not
// scanned again until its approval file changes; the loop looks for that
// change every second between rounds. Call from one thread; one agent process
// per data directory.
#ifndef OFFBOARD_AGENT_SERVICE_AGENT_LOOP_H_
#define OFFBOARD_AGENT_SERVICE_AGENT_LOOP_H_

#include <boost/filesystem/path.hpp>
#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/service/stop_signal.h"

namespace offboard::agent {

struct AgentLoopOptions {
  boost::filesystem::path data_dir;
  std::vector<std::string> roots;
  bool once = false;
  std::chrono::seconds poll_interval{30};
  std::chrono::seconds once_retry_window{30};
  bool cross_filesystems = false;
  unsigned threads = 0;
  std::string agent_version;
  bool approve_plan = false;  // wipe nothing before a person approved the plan
  // Larger attestations go in parts (OrderRunnerOptions); 0: kMaxEnvelopeBytes.
  size_t max_attestation_bytes = 0;
};

struct AgentLoopResult {
  // Every order wiped completely and its attestation delivered (for `once`;
  // a stopped long-running loop reports true).
  bool all_done = true;
  // With `once` and `approve_plan`: the orders whose plans wait for approval.
  std::vector<std::string> awaiting_approval;
};

// Errors (nothing was done): FAILED_PRECONDITION when the data directory is
// not enrolled or was decommissioned (also when that happens while the loop
// runs), NOT_FOUND / INVALID_ARGUMENT for a bad root, the errors of reading
// the enrollment files; with `once`, the controller's error when it stays
// unreachable for the whole window or refuses the agent.
// One line per order and per delivery goes to `out`.
absl::StatusOr<AgentLoopResult> RunAgentLoop(const AgentLoopOptions& options, StopSignal& stop,
                                             std::ostream& out);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_AGENT_LOOP_H_
