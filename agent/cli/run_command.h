// `offboard-agent run`: the long-running agent (agent/service/agent_loop.h).
#ifndef OFFBOARD_AGENT_CLI_RUN_COMMAND_H_
#define OFFBOARD_AGENT_CLI_RUN_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddRunCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_RUN_COMMAND_H_
