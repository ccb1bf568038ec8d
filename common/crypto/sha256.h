// Streaming SHA-256 through OpenSSL's EVP interface, which uses the CPU's SHA
// extensions where present.
//
//   Sha256 hasher;
//   hasher.Update(chunk1);
//   hasher.Update(chunk2);
//   Sha256Digest digest = hasher.Finish();
//
// A Sha256 object is not thread-safe; use one per thread. The free functions
// are thread-safe.
#ifndef OFFBOARD_COMMON_CRYPTO_SHA256_H_
#define OFFBOARD_COMMON_CRYPTO_SHA256_H_

#include <openssl/evp.h>

#include <array>
#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<uint8_t, kSha256Size>;

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;

  void Update(std::span<const uint8_t> data);
  void Update(absl::string_view data);
  // Returns the digest and resets the object for a new message.
  Sha256Digest Finish();

 private:
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
};

Sha256Digest Sha256Of(std::span<const uint8_t> data);
Sha256Digest Sha256Of(absl::string_view data);

// Hashes everything readable from `fd`, from its current offset to EOF.
// `bytes_read`, when given, receives the number of bytes hashed. INTERNAL with
// errno's text when a read fails.
absl::StatusOr<Sha256Digest> Sha256Fd(int fd, uint64_t* bytes_read = nullptr);

// Opens `path` read-only and hashes it. NOT_FOUND / PERMISSION_DENIED /
// INTERNAL name the path.
absl::StatusOr<Sha256Digest> Sha256File(const boost::filesystem::path& path);

std::string DigestHex(const Sha256Digest& digest);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_CRYPTO_SHA256_H_
