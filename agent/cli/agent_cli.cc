#include "agent/cli/agent_cli.h"

#include "agent/cli/approve_command.h"
#include "agent/cli/decommission_command.h"
#include "agent/cli/enroll_command.h"
#include "agent/cli/keygen_command.h"
#include "agent/cli/run_command.h"
#include "agent/cli/scan_command.h"
#include "agent/cli/self_attest_command.h"
#include "agent/cli/wipe_command.h"
#include "common/cli/command_line.h"

namespace offboard::agent {

int RunAgentCli(int argc, char** argv) {
  CLI::App app(
      "Offboard agent: finds every copy of a bank's datasets on this vendor host, "
      "wipes them, scans again and signs a deletion attestation.",
      "offboard-agent");
  app.set_version_flag("--version", "offboard-agent " OFFBOARD_VERSION);
  app.require_subcommand(1);
  common::CommandAction action;
  // Subcommands, one file each under agent/cli/.
  AddKeygenCommand(app, action);
  AddScanCommand(app, action);
  AddWipeCommand(app, action);
  AddEnrollCommand(app, action);
  AddRunCommand(app, action);
  AddApproveCommand(app, action);
  AddDecommissionCommand(app, action);
  AddSelfAttestCommand(app, action);
  return common::RunCommandLine(app, action, argc, argv);
}

}  // namespace offboard::agent
