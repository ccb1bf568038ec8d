// offboard-controller: the bank's side. Subcommands live in controller/cli/.
#include "common/rpc/grpc_lifetime.h"
#include "controller/cli/controller_cli.h"

int main(int argc, char** argv) {
  const int exit_code = offboard::controller::RunControllerCli(argc, argv);
  offboard::common::FinishGrpc();  // the server's last connection closed before exit
  return exit_code;
}
