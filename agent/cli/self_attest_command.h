// `offboard-agent self-attest`: a vendor officer signs a statement that the
// bank's data was deleted in places no agent can reach (tape backups, a SaaS
// tenant), for `offboard-controller self-attest`. The bank shows it as
// self_attested, never as wiped.
#ifndef OFFBOARD_AGENT_CLI_SELF_ATTEST_COMMAND_H_
#define OFFBOARD_AGENT_CLI_SELF_ATTEST_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddSelfAttestCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_SELF_ATTEST_COMMAND_H_
