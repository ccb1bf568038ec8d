// `offboard-controller evidence`: exports a contract's evidence package for a
// regulator (controller/evidence/evidence_export.h).
#ifndef OFFBOARD_CONTROLLER_CLI_EVIDENCE_COMMAND_H_
#define OFFBOARD_CONTROLLER_CLI_EVIDENCE_COMMAND_H_

#include "common/cli/command_line.h"

namespace offboard::controller {

void AddEvidenceCommand(CLI::App& app, common::CommandAction& action);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_EVIDENCE_COMMAND_H_
