// The identifier regex of a fingerprint set, compiled as the agent's scanner
// runs it: ECMAScript syntax under RE2, which has no backreferences or
// lookaround. Named groups (?<name>...) are accepted. The regex applies to one
// line at a time (no match spans a newline; ^ and $ anchor at line
// boundaries), and group 1 is the identifier: a regex without a capturing
// group is wrapped in one.
//
// The controller checks a fingerprint file with the same function, so that a
// set the bank imports is one every agent can scan for:
//
//   OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<RE2> re2,
//                             common::CompileIdentifierRegex(set.identifier_regex));
#ifndef OFFBOARD_COMMON_INVENTORY_IDENTIFIER_REGEX_H_
#define OFFBOARD_COMMON_INVENTORY_IDENTIFIER_REGEX_H_

#include <re2/re2.h>

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"

namespace offboard::common {

// INVALID_ARGUMENT with RE2's reason when RE2 cannot run `ecmascript`.
absl::StatusOr<std::unique_ptr<RE2>> CompileIdentifierRegex(std::string_view ecmascript);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_INVENTORY_IDENTIFIER_REGEX_H_
