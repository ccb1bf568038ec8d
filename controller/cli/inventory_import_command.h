// `offboard-controller inventory import`: the inventory CSV and fingerprint
// files into the store, in one transaction (a bad line leaves nothing behind;
// importing the same files again changes nothing).
#ifndef OFFBOARD_CONTROLLER_CLI_INVENTORY_IMPORT_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_INVENTORY_IMPORT_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

// Adds `import` under the `inventory` command group.
void AddInventoryImportCommand(CLI::App& inventory, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_INVENTORY_IMPORT_COMMAND_H_
