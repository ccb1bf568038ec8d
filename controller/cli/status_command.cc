#include "controller/cli/status_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"
#include "controller/cli/contract_reconciliation.h"
#include "controller/cli/controller_home.h"
#include "common/reconcile/reconciliation_report.h"
#include "controller/service/controller_services.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller status";

struct StatusOptions {
  std::string data_dir;
  std::string contract;
  bool json = false;
};

int Status(const StatusOptions& options) {
  absl::StatusOr<ControllerHome> home = OpenControllerHome(options.data_dir);
  if (!home.ok()) return common::ReportError(kProgram, home.status());
  std::vector<std::string> contracts;
  if (!options.contract.empty()) {
    contracts.push_back(options.contract);
  } else {
    absl::StatusOr<std::vector<std::string>> all = home->store->ContractIds();
    if (!all.ok()) return common::ReportError(kProgram, all.status());
    contracts = *std::move(all);
  }
  bool complete = true;
  nlohmann::ordered_json all_json = nlohmann::ordered_json::array();
  for (const std::string& contract : contracts) {
    absl::StatusOr<common::Reconciliation> reconciliation =
        ReconcileContract(*home->store, contract, SystemNow());
    if (!reconciliation.ok()) return common::ReportError(kProgram, reconciliation.status());
    complete = complete && reconciliation->verdict == common::Verdict::kVerifiedComplete;
    common::AuditEvent("verdict", {{"contract_id", contract},
                                   {"verdict", common::VerdictName(reconciliation->verdict)}});
    if (options.json && !options.contract.empty()) {
      // One contract: streamed, so a million files never sit in memory as JSON.
      common::WriteReconciliationJson(*reconciliation, std::cout);
    } else if (options.json) {
      all_json.push_back(common::ReconciliationToJson(*reconciliation));
    } else {
      std::cout << common::ReconciliationTable(*reconciliation) << "\n";
    }
  }
  if (options.json && options.contract.empty()) {
    const nlohmann::ordered_json out{{"contracts", all_json}};
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return complete ? common::kExitDone : common::kExitAttention;
}

}  // namespace

void AddStatusCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "status",
      "Reconcile the vendors' attestations against the inventory: each file wiped, "
      "found_not_wiped, failed, not_found, residual or self_attested, unexpected copies, overdue "
      "orders, and the verdict. Exit 0 only when every contract shown is verified_complete.");
  auto options = std::make_shared<StatusOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--contract", options->contract, "one contract (default: all)");
  sub->add_flag("--json", options->json, "machine-readable output (INTERFACE.md)");
  sub->callback([&action, options] { action = [options] { return Status(*options); }; });
}

}  // namespace offboard::controller
