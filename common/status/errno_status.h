// Maps an errno value to an absl::Status with a canonical code, so that callers
// can tell "not there" from "not allowed" from "broken" without parsing text.
#ifndef OFFBOARD_COMMON_STATUS_ERRNO_STATUS_H_
#define OFFBOARD_COMMON_STATUS_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

// "<context>: <strerror(error)>" with ENOENT -> NOT_FOUND, EACCES/EPERM ->
// PERMISSION_DENIED, EEXIST -> ALREADY_EXISTS, ENOSPC -> RESOURCE_EXHAUSTED,
// EINVAL -> INVALID_ARGUMENT, everything else INTERNAL.
absl::Status ErrnoToStatus(int error, absl::string_view context);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_STATUS_ERRNO_STATUS_H_
