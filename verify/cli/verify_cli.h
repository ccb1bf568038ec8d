// The offboard-verify command line.
#ifndef OFFBOARD_VERIFY_CLI_VERIFY_CLI_H_
#define OFFBOARD_VERIFY_CLI_VERIFY_CLI_H_

namespace offboard::verify {

int RunVerifyCli(int argc, char** argv);

}  // namespace offboard::verify

#endif  // OFFBOARD_VERIFY_CLI_VERIFY_CLI_H_
