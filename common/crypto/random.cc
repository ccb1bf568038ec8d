#include "common/crypto/random.h"

#include <openssl/rand.h>

#include "common/encoding/hex.h"

namespace offboard::common {

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return absl::InternalError("the OS random source failed");
  }
  return HexEncode(raw);
}

}  // namespace offboard::common
