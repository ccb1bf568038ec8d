// `offboard-controller officer add`: register a vendor officer's Ed25519
// public key; `offboard-controller self-attest`: accept a self-attestation
// that such an officer signed, for places no agent can reach.
#ifndef OFFBOARD_CONTROLLER_CLI_SELF_ATTESTATION_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_SELF_ATTESTATION_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

void AddOfficerCommand(CLI::App& app, common::CommandAction& action);
void AddSelfAttestCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_SELF_ATTESTATION_COMMAND_H_
