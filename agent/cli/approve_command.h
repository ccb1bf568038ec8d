// `offboard-agent approve`: a person approves the plan that `run
// --approve-plan` wrote for an order (agent/service/plan_approval.h).
#ifndef OFFBOARD_AGENT_CLI_APPROVE_COMMAND_H_
#define OFFBOARD_AGENT_CLI_APPROVE_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::agent {

void AddApproveCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_APPROVE_COMMAND_H_
