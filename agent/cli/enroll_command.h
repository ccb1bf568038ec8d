// `offboard-agent enroll`: trade a single-use token for a client certificate.
#ifndef OFFBOARD_AGENT_CLI_ENROLL_COMMAND_H_
#define OFFBOARD_AGENT_CLI_ENROLL_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddEnrollCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_ENROLL_COMMAND_H_
