#include "agent/cli/decommission_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "agent/service/controller_client.h"
#include "agent/service/decommission.h"

namespace offboard::agent {
namespace {

struct DecommissionCommandOptions {
  std::string data_dir;
  bool force = false;
};

int Decommission(const DecommissionCommandOptions& options) {
  const DecommissionCall call =
      [](const Enrollment& enrollment) -> absl::StatusOr<offboard::v1::DecommissionResponse> {
    absl::StatusOr<ControllerClient> client =
        ControllerClient::Connect(enrollment.endpoint, enrollment.credentials);
    if (!client.ok()) return client.status();
    return client->Decommission(enrollment.agent_id);
  };
  absl::StatusOr<DecommissionReport> report =
      DecommissionAgent({.data_dir = options.data_dir, .force = options.force}, call);
  if (!report.ok()) return common::ReportError("offboard-agent decommission", report.status());
  for (const std::string& reason : report->forced_past) {
    std::cout << "forced past: " << reason << "\n";
  }
  if (report->resumed) std::cout << "finished an interrupted decommissioning\n";
  std::cout << "controller " << report->controller << " banned agent " << report->agent_id
            << " (vendor " << report->vendor_id << ", host " << report->host_id << ") at "
            << report->banned_at_controller
            << (report->already_banned ? " (it was banned already)" : "") << "\n";
  for (const std::string& path : report->destroyed) {
    std::cout << "destroyed " << path
              << " (overwritten with random bytes, read back, truncated, unlinked)\n";
  }
  for (const std::string& path : report->absent) {
    std::cout << "already gone: " << path << "\n";
  }
  std::cout << "wrote " << report->record.string()
            << ": this data directory can no longer run, enroll or sign\n";
  return common::kExitDone;
}

}  // namespace

void AddDecommissionCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "decommission",
      "Retire this agent for good once its contract's final receipt is in: refuse (exit 2, "
      "nothing changed) unless every order it took has a receipt and its outbox is empty; ask "
      "the controller to ban its identity; only after the controller's answer destroy the "
      "attestation key and the TLS key in --data-dir (overwritten with random bytes, read back, "
      "truncated, unlinked; nothing outside --data-dir is touched) and write "
      "--data-dir/decommissioned.json. Afterwards run, enroll and decommission refuse that "
      "directory. An unreachable controller destroys nothing (exit 1). Stop `offboard-agent "
      "run` first.");
  auto options = std::make_shared<DecommissionCommandOptions>();
  sub->add_option("--data-dir", options->data_dir, "the enrolled agent's state directory")
      ->required();
  sub->add_flag("--force", options->force,
                "decommission although orders have no receipt or attestations wait in the "
                "outbox (they are listed and stay unanswered)");
  sub->callback([&action, options] { action = [options] { return Decommission(*options); }; });
}

}  // namespace offboard::agent
