#include "agent/cli/run_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/service/agent_loop.h"
#include "agent/service/stop_signal.h"

namespace offboard::agent {
namespace {

struct RunCommandOptions {
  std::string data_dir;
  std::vector<std::string> roots;
  bool once = false;
  unsigned poll_seconds = 30;
  bool cross_filesystems = false;
  unsigned threads = 0;
};

int Run(const RunCommandOptions& options) {
  StopSignal stop;  // first: every thread started later inherits the blocked signals
  absl::StatusOr<bool> all_done =
      RunAgentLoop({.data_dir = options.data_dir,
                    .roots = options.roots,
                    .once = options.once,
                    .poll_interval = std::chrono::seconds(options.poll_seconds),
                    .cross_filesystems = options.cross_filesystems,
                    .threads = options.threads,
                    .agent_version = OFFBOARD_VERSION},
                   stop, std::cout);
  if (!all_done.ok()) return common::ReportError("offboard-agent run", all_done.status());
  return *all_done ? common::kExitDone : common::kExitAttention;
}

}  // namespace

void AddRunCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "run",
      "Run as the enrolled agent: pull this host's signed wipe orders from the controller over "
      "mutual TLS, refuse forged, expired or misaddressed ones, then scan, wipe, scan again, "
      "attest and submit. Attestations wait in --data-dir/outbox until the controller has "
      "answered with a receipt. SIGTERM stops between steps; a restart resumes. With --once: "
      "one round, exit 0 only if every order was wiped completely and delivered.");
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
                "descend into other filesystems mounted below a root");
  sub->add_option("--threads", options->threads, "scanning threads (default: one per CPU)");
  sub->callback([&action, options] { action = [options] { return Run(*options); }; });
}

}  // namespace offboard::agent
