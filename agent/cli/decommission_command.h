// `offboard-agent decommission`: the agent's last act after its contract's
// final receipt (agent/service/decommission.h).
#ifndef OFFBOARD_AGENT_CLI_DECOMMISSION_COMMAND_H_
#define OFFBOARD_AGENT_CLI_DECOMMISSION_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddDecommissionCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_DECOMMISSION_COMMAND_H_
