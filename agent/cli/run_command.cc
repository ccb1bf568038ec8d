#include "agent/cli/run_command.h"

#include <boost/filesystem/operations.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/service/agent_loop.h"
#include "agent/service/controller_client.h"
#include "agent/service/plan_approval.h"
#include "agent/service/stop_signal.h"

namespace offboard::agent {
namespace {

// `run --once --approve-plan` with a plan waiting for a person: not an error
// and not "done", but something a script must tell apart.
constexpr int kExitAwaitingApproval = 3;

struct RunCommandOptions {
  std::string data_dir;
  std::vector<std::string> roots;
  bool once = false;
  unsigned poll_seconds = 30;
  bool cross_filesystems = false;
  unsigned threads = 0;
  bool approve_plan = false;
  size_t max_attestation_bytes = kMaxEnvelopeBytes;
};

int Run(const RunCommandOptions& options) {
  StopSignal stop;  // first: every thread started later inherits the blocked signals
  absl::StatusOr<AgentLoopResult> result =
      RunAgentLoop({.data_dir = options.data_dir,
                    .roots = options.roots,
                    .once = options.once,
                    .poll_interval = std::chrono::seconds(options.poll_seconds),
                    .cross_filesystems = options.cross_filesystems,
                    .threads = options.threads,
                    .agent_version = OFFBOARD_VERSION,
                    .approve_plan = options.approve_plan,
                    .max_attestation_bytes = options.max_attestation_bytes},
                   stop, std::cout);
  if (!result.ok()) return common::ReportError("offboard-agent run", result.status());
  if (!result->awaiting_approval.empty()) {
    const boost::filesystem::path data_dir = boost::filesystem::absolute(options.data_dir);
    for (const std::string& order_id : result->awaiting_approval) {
      std::cerr << "offboard-agent run: order " << order_id << " awaits approval of its plan "
                << PlanPath(data_dir, order_id).string()
                << "; nothing was wiped. Approve it with: " << ApproveCommand(data_dir, order_id)
                << std::endl;
    }
    return kExitAwaitingApproval;
  }
  return result->all_done ? common::kExitDone : common::kExitAttention;
}

}  // namespace

void AddRunCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "run",
      "Run as the enrolled agent: pull this host's signed wipe orders from the controller over "
      "mutual TLS, refuse forged, expired or misaddressed ones, then scan, wipe, scan again, "
      "attest and submit. Attestations wait in --data-dir/outbox until the controller has "
      "answered with a receipt. SIGTERM stops between steps; a restart resumes. With --once: "
      "one round, exit 0 only if every order was wiped completely and delivered. With "
      "--approve-plan: nothing is wiped before a person approved the exact plan; the agent "
      "writes it to --data-dir/orders/ORDER/plan.json, reports 'awaiting approval' and waits "
      "for `offboard-agent approve ORDER` (with --once it exits 3 naming the order and the "
      "command).");
  auto options = std::make_shared<RunCommandOptions>();
  sub->add_option("--data-dir", options->data_dir, "the enrolled agent's state directory")
      ->required();
  sub->add_option("--root", options->roots,
                  "directory to scan and wipe in; nothing outside the roots is ever touched; "
                  "repeat for several")
      ->required();
  sub->add_flag("--once", options->once, "one round, then exit");
  sub->add_option("--poll-seconds", options->poll_seconds, "seconds between rounds (default 30)")
      ->check(CLI::Range(1u, 86400u));
  sub->add_flag("--cross-filesystems", options->cross_filesystems,
                "descend into other filesystems mounted below a root (a bind mount of a "
                "directory, or a filesystem also mounted outside the root, is never wiped)");
  sub->add_option("--threads", options->threads, "scanning threads (default: one per CPU)");
  sub->add_flag("--approve-plan", options->approve_plan,
                "wipe nothing before a person approved the plan with `offboard-agent approve "
                "ORDER`; if a new scan before wiping finds anything else, write the new plan and "
                "wait again. With --once: exit 3 while a plan awaits approval");
  sub->add_option("--max-attestation-bytes", options->max_attestation_bytes,
                  absl::StrCat("an attestation larger than this goes to the controller in parts, "
                               "each signed, each at most this size (for a proxy that limits "
                               "messages; default and largest: ",
                               kMaxEnvelopeBytes, ", what one message may carry)"))
      ->check(CLI::Range(size_t{8192}, kMaxEnvelopeBytes));
  sub->callback([&action, options] { action = [options] { return Run(*options); }; });
}

}  // namespace offboard::agent
