// UTF-8 validation: inventories must be UTF-8, and reports that carry file
// names (which on Linux are arbitrary bytes) must say when a name is not.
// Thread-safe: pure functions.
#ifndef OFFBOARD_COMMON_ENCODING_UTF8_H_
#define OFFBOARD_COMMON_ENCODING_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace offboard::common {

// Offset of the first byte that does not start a valid UTF-8 sequence, or
// npos. Overlong forms, UTF-16 surrogates and code points above U+10FFFF are
// invalid; NUL is valid UTF-8.
size_t FindInvalidUtf8(absl::string_view value);

bool IsValidUtf8(absl::string_view value);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_ENCODING_UTF8_H_
