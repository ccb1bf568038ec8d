#include "common/encoding/utf8.h"

#include <cstdint>
#include <cstring>

namespace offboard::common {
namespace {

// True when all 8 bytes at `p` are ASCII (below 0x80) and none is NUL.
bool IsPlainAscii8(const unsigned char* p) {
  constexpr uint64_t kHighBits = 0x8080808080808080;
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return (v & kHighBits) == 0 && ((v - 0x0101010101010101) & ~v & kHighBits) == 0;
}

}  // namespace

size_t FindInvalidUtf8(absl::string_view value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(value.data());
  const size_t size = value.size();
  size_t i = 0;
  while (i < size) {
    if (i + 8 <= size && IsPlainAscii8(bytes + i)) {
      i += 8;
      continue;
    }
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char min_second = 0x80;
    unsigned char max_second = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) min_second = 0xA0;  // overlong
      if (lead == 0xED) max_second = 0x9F;  // UTF-16 surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) min_second = 0x90;  // overlong
      if (lead == 0xF4) max_second = 0x8F;  // above U+10FFFF
    }
    bool valid = length != 0 && i + length <= size && bytes[i + 1] >= min_second &&
                 bytes[i + 1] <= max_second;
    for (size_t k = 2; valid && k < length; ++k) {
      valid = (bytes[i + k] & 0xC0) == 0x80;
    }
    if (!valid) return i;
    i += length;
  }
  return absl::string_view::npos;
}

bool IsValidUtf8(absl::string_view value) {
  return FindInvalidUtf8(value) == absl::string_view::npos;
}

}  // namespace offboard::common
