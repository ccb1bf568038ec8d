// What an agent sends to enroll: a fresh key that never leaves the agent's
// host, and a PKCS#10 certificate request signed by it. The controller's CA
// takes only the public key from the request (controller/ca/), so the
// subject here is a courtesy for people reading the request.
//
//   OFFBOARD_ASSIGN_OR_RETURN(KeyAndCsr request, GenerateKeyAndCsr(host_name));
//   // save request.private_key_pem with mode 0600, send request.csr_pem
//
// Thread-safe: no shared state.
#ifndef OFFBOARD_COMMON_TLS_KEY_AND_CSR_H_
#define OFFBOARD_COMMON_TLS_KEY_AND_CSR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

struct KeyAndCsr {
  std::string private_key_pem;  // PKCS#8 "BEGIN PRIVATE KEY", unencrypted
  std::string csr_pem;          // "BEGIN CERTIFICATE REQUEST"
};

// A new ECDSA P-256 key and a CSR for it with subject CN=<common_name>,
// signed with ECDSA-SHA256. INVALID_ARGUMENT when `common_name` is empty,
// longer than 64 bytes or not valid UTF-8; INTERNAL if OpenSSL fails.
absl::StatusOr<KeyAndCsr> GenerateKeyAndCsr(absl::string_view common_name);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_TLS_KEY_AND_CSR_H_
