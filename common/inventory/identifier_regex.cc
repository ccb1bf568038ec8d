#include "common/inventory/identifier_regex.h"

#include <string>

#include "absl/status/status.h"

namespace offboard::common {
namespace {

// ECMAScript named groups (?<name>...) in RE2's spelling, (?P<name>...). The
// rest is passed on as is; RE2 rejects what it cannot run.
std::string TranslateEcmaScript(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    out += c;
    if (c == '\\' && i + 1 < pattern.size()) {
      out += pattern[++i];
    } else if (in_class || c == '[') {
      in_class = c != ']';
    } else if (pattern.substr(i, 3) == "(?<" && pattern.size() > i + 3 && pattern[i + 3] != '=' &&
               pattern[i + 3] != '!') {
      out += "?P";
      ++i;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RE2>> CompileIdentifierRegex(std::string_view ecmascript) {
  RE2::Options options;
  options.set_log_errors(false);  // the error goes into the status
  options.set_never_nl(true);     // a match stays within one line
  // (?m): ^ and $ match at line boundaries, since each line is a record.
  const std::string translated = TranslateEcmaScript(ecmascript);
  auto re2 = std::make_unique<RE2>("(?m)" + translated, options);
  if (re2->ok() && re2->NumberOfCapturingGroups() == 0) {
    re2 = std::make_unique<RE2>("(?m)(" + translated + ")", options);
  }
  if (!re2->ok()) return absl::InvalidArgumentError(re2->error());
  return re2;
}

}  // namespace offboard::common
