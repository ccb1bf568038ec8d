#include "verify/cli/verify_cli.h"

#include "common/cli/command_line.h"
#include "verify/cli/envelope_command.h"

namespace offboard::verify {

int RunVerifyCli(int argc, char** argv) {
  CLI::App app(
      "Offboard verifier: checks Offboard evidence offline, on the auditor's own "
      "machine, trusting neither the bank's nor the vendor's systems.",
      "offboard-verify");
  app.set_version_flag("--version", "offboard-verify " OFFBOARD_VERSION);
  app.require_subcommand(1);
  common::CommandAction action;
  AddEnvelopeCommand(app, action);
  return common::RunCommandLine(app, action, argc, argv);
}

}  // namespace offboard::verify
