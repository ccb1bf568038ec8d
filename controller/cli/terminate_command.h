// `offboard-controller terminate`: one signed wipe order per enrolled host of
// the contract's vendor, carrying the policy, a fresh nonce, the expiry and
// the datasets with their digests and fingerprint sets.
#ifndef OFFBOARD_CONTROLLER_CLI_TERMINATE_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_TERMINATE_COMMAND_H_

#include <string>
#include <vector>

#include "common/cli/command_line.h"
#include "controller/store/store.h"

namespace offboard::controller {

void AddTerminateCommand(CLI::App& app, common::CommandAction& action);

// Who gets the orders among one vendor's enrollments: one agent per host,
// the one enrolled last (the host enrolled again when its agent was
// reinstalled, and only the new agent will ever answer); none for a host
// whose latest agent is banned (decommissioned). Ordered by host id; the
// older agents that are not banned go to `superseded`.
struct OrderRecipients {
  std::vector<Enrollment> agents;
  std::vector<Enrollment> superseded;
};
OrderRecipients SelectOrderRecipients(std::vector<Enrollment> enrollments);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_TERMINATE_COMMAND_H_
