// `offboard-agent keygen`: create (or show) the agent's attestation key.
#ifndef OFFBOARD_AGENT_CLI_KEYGEN_COMMAND_H_
#define OFFBOARD_AGENT_CLI_KEYGEN_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddKeygenCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_KEYGEN_COMMAND_H_
