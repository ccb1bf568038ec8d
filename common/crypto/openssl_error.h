// Small helpers for reporting OpenSSL failures and reading memory BIOs, shared
// by the key, certificate and TLS code. Thread-safe: OpenSSL's error queue is
// per thread.
#ifndef OFFBOARD_COMMON_CRYPTO_OPENSSL_ERROR_H_
#define OFFBOARD_COMMON_CRYPTO_OPENSSL_ERROR_H_

#include <openssl/bio.h>

#include <string>

namespace offboard::common {

// The text of the oldest queued OpenSSL error of this thread, for messages;
// clears the queue. "unknown OpenSSL error" when it is empty.
std::string OpenSslError();

// Everything written to a memory BIO ("" when nothing was).
std::string MemoryBioContents(BIO* bio);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_CRYPTO_OPENSSL_ERROR_H_
