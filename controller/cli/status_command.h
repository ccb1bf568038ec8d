// `offboard-controller status`: the reconciliation of a contract's attestations
// against its inventory, as a table for people or as JSON (INTERFACE.md).
#ifndef OFFBOARD_CONTROLLER_CLI_STATUS_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_STATUS_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

void AddStatusCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_STATUS_COMMAND_H_
