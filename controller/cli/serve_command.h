// `offboard-controller serve`: the gRPC server, mutual TLS only, until SIGTERM.
#ifndef OFFBOARD_CONTROLLER_CLI_SERVE_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_SERVE_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

void AddServeCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_SERVE_COMMAND_H_
