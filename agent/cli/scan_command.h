// `offboard-agent scan`: find every copy of the bank's datasets under the
// roots and write the report of INTERFACE.md. Changes nothing.
#ifndef OFFBOARD_AGENT_CLI_SCAN_COMMAND_H_
#define OFFBOARD_AGENT_CLI_SCAN_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddScanCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_SCAN_COMMAND_H_
