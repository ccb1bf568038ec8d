// Times as the project writes them in text meant for people and auditors:
// RFC 3339 in UTC to the second, "2026-11-26T14:05:01Z".
//
// Pure functions: thread-safe.
#ifndef OFFBOARD_COMMON_ENCODING_RFC3339_H_
#define OFFBOARD_COMMON_ENCODING_RFC3339_H_

#include <cstdint>
#include <string>

namespace offboard::common {

// "2026-11-26T14:05:01Z" for Unix seconds.
std::string UnixToRfc3339(int64_t seconds);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_ENCODING_RFC3339_H_
