// Lowercase hexadecimal encoding and strict decoding of byte strings.
//
// Digests, nonces and keys appear as lowercase hex in every Offboard file
// format (INTERFACE.md); decoding is strict so that a typo is an error, never a
// silently different value. Thread-safe: plain functions without state.
#ifndef OFFBOARD_COMMON_ENCODING_HEX_H_
#define OFFBOARD_COMMON_ENCODING_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

// Lowercase hex of `bytes`, two characters per byte.
std::string HexEncode(std::span<const uint8_t> bytes);
std::string HexEncode(absl::string_view bytes);

// True when `text` is exactly `byte_length` bytes of lowercase hex.
bool IsLowerHex(absl::string_view text, size_t byte_length);

// Decodes hex (either case). INVALID_ARGUMENT, naming the offending position,
// for an odd length or a character outside [0-9a-fA-F].
absl::StatusOr<std::vector<uint8_t>> HexDecode(absl::string_view text);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_ENCODING_HEX_H_
