// `offboard-verify envelope`: check one DSSE attestation against public keys.
#ifndef OFFBOARD_VERIFY_CLI_ENVELOPE_COMMAND_H_
#define OFFBOARD_VERIFY_CLI_ENVELOPE_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::verify {

void AddEnvelopeCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::verify

#endif  // OFFBOARD_VERIFY_CLI_ENVELOPE_COMMAND_H_
