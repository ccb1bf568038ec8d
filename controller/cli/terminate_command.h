// `offboard-controller terminate`: one signed wipe order per enrolled host of
// the contract's vendor, carrying the policy, a fresh nonce, the expiry and
// the datasets with their digests and fingerprint sets. Run again, it asks
// only the hosts with no order to answer: enrolled since, or whose orders
// all expired unanswered.
#ifndef OFFBOARD_CONTROLLER_CLI_TERMINATE_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_TERMINATE_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

void AddTerminateCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_TERMINATE_COMMAND_H_
