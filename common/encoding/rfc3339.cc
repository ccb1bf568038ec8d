#include "common/encoding/rfc3339.h"

#include "absl/time/time.h"

namespace offboard::common {

std::string UnixToRfc3339(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(seconds),
                          absl::UTCTimeZone());
}

}  // namespace offboard::common
