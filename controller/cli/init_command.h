// `offboard-controller init`: the data directory — database, the controller's signing key,
// its own CA and a server certificate for the given host names.
#ifndef OFFBOARD_CONTROLLER_CLI_INIT_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_INIT_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

void AddInitCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_INIT_COMMAND_H_
