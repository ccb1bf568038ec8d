// offboard-agent: runs on a vendor host; finds the bank's data, wipes it, and
// signs a deletion attestation. Subcommands live in agent/cli/.
#include "agent/cli/agent_cli.h"
#include "common/rpc/grpc_lifetime.h"

int main(int argc, char** argv) {
  const int exit_code = offboard::agent::RunAgentCli(argc, argv);
  offboard::common::FinishGrpc();  // the last connection closed before exit
  return exit_code;
}
