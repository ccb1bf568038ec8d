// offboard-controller: the bank's side. Subcommands live in controller/cli/.
#include "controller/cli/controller_cli.h"

int main(int argc, char** argv) { return offboard::controller::RunControllerCli(argc, argv); }
