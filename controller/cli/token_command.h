// `offboard-controller token`: a single-use, expiring enrollment token for one
// vendor host, printed once and stored only as its SHA-256.
#ifndef OFFBOARD_CONTROLLER_CLI_TOKEN_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_TOKEN_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

void AddTokenCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_TOKEN_COMMAND_H_
