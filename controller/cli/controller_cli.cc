#include "controller/cli/controller_cli.h"

#include "common/cli/command_line.h"
#include "controller/cli/evidence_command.h"
#include "controller/cli/init_command.h"
#include "controller/cli/inventory_check_command.h"
#include "controller/cli/inventory_import_command.h"
#include "controller/cli/self_attestation_command.h"
#include "controller/cli/serve_command.h"
#include "controller/cli/status_command.h"
#include "controller/cli/terminate_command.h"
#include "controller/cli/token_command.h"

namespace offboard::controller {

int RunControllerCli(int argc, char** argv) {
  CLI::App app(
      "Offboard controller: the bank's side. Keeps the inventory of shared data, "
      "issues signed wipe orders when a contract ends, checks the vendors' deletion "
      "attestations and exports evidence for regulators.",
      "offboard-controller");
  app.set_version_flag("--version", "offboard-controller " OFFBOARD_VERSION);
  app.require_subcommand(1);
  common::CommandAction action;
  // Subcommands, one file each under controller/cli/.
  AddInitCommand(app, action);
  AddServeCommand(app, action);
  AddTokenCommand(app, action);
  CLI::App* inventory = app.add_subcommand("inventory", "The bank's inventory of shared files.");
  inventory->require_subcommand(1);
  AddInventoryCheckCommand(*inventory, action);
  AddInventoryImportCommand(*inventory, action);
  AddTerminateCommand(app, action);
  AddStatusCommand(app, action);
  AddEvidenceCommand(app, action);
  AddOfficerCommand(app, action);
  AddSelfAttestCommand(app, action);
  return common::RunCommandLine(app, action, argc, argv);
}

}  // namespace offboard::controller
