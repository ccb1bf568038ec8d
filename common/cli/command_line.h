// The command-line contract shared by offboard-agent, offboard-controller and
// offboard-verify (INTERFACE.md): every command has --help; an error is one
// line on stderr naming what is at fault; exit codes are 0 done, 1 done but
// something needs attention, 2 bad usage, configuration or input.
//
// Each subcommand lives in its own file and registers itself like this:
//
//   void AddKeygenCommand(CLI::App& app, CommandAction& action) {
//     auto* sub = app.add_subcommand("keygen", "...");
//     auto options = std::make_shared<KeygenOptions>();
//     sub->add_option("--data-dir", options->data_dir, "...")->required();
//     sub->callback([&action, options] { action = [options] { return Keygen(*options); }; });
//   }
//
// and main() is `return RunCommandLine(app, action, argc, argv);`.
#ifndef OFFBOARD_COMMON_CLI_COMMAND_LINE_H_
#define OFFBOARD_COMMON_CLI_COMMAND_LINE_H_

#include <CLI/CLI.hpp>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

inline constexpr int kExitDone = 0;
inline constexpr int kExitAttention = 1;
inline constexpr int kExitBadInput = 2;

// What the chosen subcommand does once the whole command line has parsed.
using CommandAction = std::function<int()>;

// Bad input, configuration or usage (nothing was changed) -> 2: the codes
// INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
// PERMISSION_DENIED, OUT_OF_RANGE. Every other error -> 1. OK -> 0.
int ExitCodeFor(const absl::Status& status);

// Prints "<program>: error: <message>" as one line on stderr (newlines in the
// message are replaced) and returns ExitCodeFor(status).
int ReportError(absl::string_view program, const absl::Status& status);

// Parses, then runs `action`. --help prints help and returns 0; a parse error
// prints one line and returns 2; so does a command line that chose no action.
int RunCommandLine(CLI::App& app, CommandAction& action, int argc, char** argv);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_CLI_COMMAND_LINE_H_
