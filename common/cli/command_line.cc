#include "common/cli/command_line.h"

#include <exception>
#include <iostream>
#include <string>

#include "absl/strings/str_replace.h"

namespace offboard::common {
namespace {

std::string OneLine(absl::string_view text) {
  std::string line = absl::StrReplaceAll(text, {{"\r", " "}, {"\n", " "}});
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

}  // namespace

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitDone;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kOutOfRange:
      return kExitBadInput;
    default:
      return kExitAttention;
  }
}

int ReportError(absl::string_view program, const absl::Status& status) {
  std::cerr << program << ": error: " << OneLine(status.message()) << std::endl;
  return ExitCodeFor(status);
}

int RunCommandLine(CLI::App& app, CommandAction& action, int argc, char** argv) {
  const std::string program = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitDone;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitDone;
  } catch (const CLI::CallForVersion& version) {
    std::cout << version.what() << std::endl;
    return kExitDone;
  } catch (const CLI::ParseError& error) {
    std::cerr << program << ": error: " << OneLine(error.what()) << " (run " << program
              << " --help)" << std::endl;
    return kExitBadInput;
  }
  if (!action) {
    std::cerr << program << ": error: no command given (run " << program << " --help)" << std::endl;
    return kExitBadInput;
  }
  try {
    return action();
  } catch (const std::exception& error) {
    // Commands report through absl::Status; reaching here is a bug, but the
    // user still gets one line and a non-zero exit rather than an abort.
    std::cerr << program << ": internal error: " << OneLine(error.what()) << std::endl;
    return kExitAttention;
  }
}

}  // namespace offboard::common
