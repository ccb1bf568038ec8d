// The offboard-agent command line: one table of subcommands.
#ifndef OFFBOARD_AGENT_CLI_AGENT_CLI_H_
#define OFFBOARD_AGENT_CLI_AGENT_CLI_H_

namespace offboard::agent {

int RunAgentCli(int argc, char** argv);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_AGENT_CLI_H_
