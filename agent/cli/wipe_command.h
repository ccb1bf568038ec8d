// `offboard-agent wipe`: scan, destroy what was found by the policy, scan
// again, sign a deletion attestation and write the report of INTERFACE.md.
// Standalone: no controller needed. Resumes an interrupted run from its journal.
#ifndef OFFBOARD_AGENT_CLI_WIPE_COMMAND_H_
#define OFFBOARD_AGENT_CLI_WIPE_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddWipeCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_WIPE_COMMAND_H_
