// The offboard-controller command line: one table of subcommands.
#ifndef OFFBOARD_CONTROLLER_CLI_CONTROLLER_CLI_H_
#define OFFBOARD_CONTROLLER_CLI_CONTROLLER_CLI_H_

namespace offboard::controller {

int RunControllerCli(int argc, char** argv);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_CONTROLLER_CLI_H_
