#include "common/crypto/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"
#include "common/status/errno_status.h"

namespace offboard::common {
namespace {

// Fetched once: an explicit fetch avoids OpenSSL's per-init provider lookup,
// which dominates when hashing many small files.
const EVP_MD* Sha256Md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// Large reads keep the syscall cost far below the hashing cost.
constexpr size_t kReadChunk = 1 << 20;

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || Sha256Md() == nullptr || EVP_DigestInit_ex2(ctx_.get(), Sha256Md(), nullptr) != 1) {
    // Only an OpenSSL installation without SHA-256 or out of memory gets here;
    // nothing in Offboard can work without it.
    throw std::runtime_error("OpenSSL SHA-256 is unavailable");
  }
}

void Sha256::Update(std::span<const uint8_t> data) {
  EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

void Sha256::Update(absl::string_view data) {
  EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

Sha256Digest Sha256::Finish() {
  Sha256Digest digest;
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length);
  EVP_DigestInit_ex2(ctx_.get(), Sha256Md(), nullptr);
  return digest;
}

Sha256Digest Sha256Of(std::span<const uint8_t> data) {
  Sha256Digest digest;
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, Sha256Md(), nullptr);
  return digest;
}

Sha256Digest Sha256Of(absl::string_view data) {
  return Sha256Of(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

absl::StatusOr<Sha256Digest> Sha256Fd(int fd, uint64_t* bytes_read) {
  std::vector<uint8_t> buffer(kReadChunk);
  Sha256 hasher;
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, "read");
    }
    hasher.Update(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n)));
    total += static_cast<uint64_t>(n);
  }
  if (bytes_read != nullptr) *bytes_read = total;
  return hasher.Finish();
}

absl::StatusOr<Sha256Digest> Sha256File(const boost::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", path.string()));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  absl::StatusOr<Sha256Digest> digest = Sha256Fd(fd);
  ::close(fd);
  if (!digest.ok()) {
    return absl::Status(digest.status().code(),
                        absl::StrCat(path.string(), ": ", digest.status().message()));
  }
  return digest;
}

std::string DigestHex(const Sha256Digest& digest) { return HexEncode(digest); }

}  // namespace offboard::common
