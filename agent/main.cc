// offboard-agent: runs on a vendor host; finds the bank's data, wipes it, and
// signs a deletion attestation. Subcommands live in agent/cli/.
#include "agent/cli/agent_cli.h"

int main(int argc, char** argv) { return offboard::agent::RunAgentCli(argc, argv); }
