// `offboard-controller inventory check`: validate an inventory CSV and its
// fingerprint files without a database, so a bank officer can fix a file
// before importing it.
#ifndef OFFBOARD_CONTROLLER_CLI_INVENTORY_CHECK_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_INVENTORY_CHECK_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

// Adds `check` under the `inventory` command group.
void AddInventoryCheckCommand(CLI::App& inventory, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_INVENTORY_CHECK_COMMAND_H_
