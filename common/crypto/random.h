// Random identifiers and secrets from the OS-seeded CSPRNG (OpenSSL RAND).
// Thread-safe.
#ifndef OFFBOARD_COMMON_CRYPTO_RANDOM_H_
#define OFFBOARD_COMMON_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace offboard::common {

// `bytes` random bytes as lowercase hex (2 × bytes characters): order ids,
// nonces, agent ids, enrollment tokens. INTERNAL if the random source fails.
absl::StatusOr<std::string> RandomHex(size_t bytes);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_CRYPTO_RANDOM_H_
