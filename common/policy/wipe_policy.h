// Loading and validating wipe policies (policies/*.textproto).
//
// A policy decides how a vendor host destroys the bank's data: the overwrite
// passes, what is read back, how archive members and derived copies are
// handled, and the limits of the scan. A policy that does not say all of this
// explicitly is refused, so nobody wipes by an accidental default.
//
//   OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::WipePolicy policy,
//                             LoadWipePolicy("policies/nist-800-88-clear.textproto"));
//
// Thread-safe: pure functions.
#ifndef OFFBOARD_COMMON_POLICY_WIPE_POLICY_H_
#define OFFBOARD_COMMON_POLICY_WIPE_POLICY_H_

#include <boost/filesystem/path.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "offboard/v1/policy.pb.h"

namespace offboard::common {

// Parses text-format `text` and validates it. INVALID_ARGUMENT naming
// `<source>:<line>:<column>` for a syntax error or unknown field, and
// `<source>: field '<name>'` for a missing or out-of-range value.
absl::StatusOr<offboard::v1::WipePolicy> ParseWipePolicy(absl::string_view text,
                                                         absl::string_view source_name);

// Reads and parses a policy file; its `name` must equal the file name without
// ".textproto". NOT_FOUND naming the path for a missing file.
absl::StatusOr<offboard::v1::WipePolicy> LoadWipePolicy(const boost::filesystem::path& path);

// The checks ParseWipePolicy applies, for policies that arrive inside a wipe
// order rather than from a file.
absl::Status ValidateWipePolicy(const offboard::v1::WipePolicy& policy,
                                absl::string_view source_name);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_POLICY_WIPE_POLICY_H_
