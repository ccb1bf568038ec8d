#include "agent/wipe/overwrite.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/io/unique_fd.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

// Large enough that syscalls and cipher set-up vanish; a multiple of every
// block size and of the O_DIRECT alignment.
constexpr size_t kChunkBytes = 4 << 20;
constexpr size_t kDirectAlignment = 4096;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t[], FreeDeleter>;

AlignedBuffer AllocateAligned(size_t bytes) {
  return AlignedBuffer(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlignment, bytes)));
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

}  // namespace

// AES-256-CTR keystream: the 16-byte counter block is an 8-byte random nonce
// followed by the big-endian block index (offset / 16), so that any offset
// can be generated again without generating what precedes it.
struct PatternStream::Cipher {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> ctx{EVP_CIPHER_CTX_new()};
  unsigned char key[32] = {};
  unsigned char nonce[8] = {};
  ~Cipher() { OPENSSL_cleanse(key, sizeof(key)); }
};

PatternStream::PatternStream(std::string name, int fill_byte, std::unique_ptr<Cipher> cipher)
    : name_(std::move(name)), fill_byte_(fill_byte), cipher_(std::move(cipher)) {}
PatternStream::PatternStream(PatternStream&&) noexcept = default;
PatternStream& PatternStream::operator=(PatternStream&&) noexcept = default;
PatternStream::~PatternStream() = default;

absl::StatusOr<PatternStream> PatternStream::ForPass(const offboard::v1::OverwritePass& pass) {
  switch (pass.pattern()) {
    case offboard::v1::PASS_PATTERN_ZEROS:
      return PatternStream("zeros", 0x00, nullptr);
    case offboard::v1::PASS_PATTERN_ONES:
      return PatternStream("ones", 0xFF, nullptr);
    case offboard::v1::PASS_PATTERN_BYTE:
      if (pass.byte() > 0xFF) {
        return absl::InvalidArgumentError(
            absl::StrCat("overwrite pass byte ", pass.byte(), " is over 255"));
      }
      return PatternStream(absl::StrFormat("byte 0x%02x", pass.byte()),
                           static_cast<int>(pass.byte()), nullptr);
    case offboard::v1::PASS_PATTERN_RANDOM: {
      auto cipher = std::make_unique<Cipher>();
      if (!cipher->ctx || RAND_priv_bytes(cipher->key, sizeof(cipher->key)) != 1 ||
          RAND_bytes(cipher->nonce, sizeof(cipher->nonce)) != 1) {
        return absl::InternalError("random pass: the OS random source failed");
      }
      if (EVP_EncryptInit_ex2(cipher->ctx.get(), EVP_aes_256_ctr(), cipher->key, nullptr,
                              nullptr) != 1) {
        return absl::InternalError("random pass: AES-256-CTR is not available");
      }
      return PatternStream("random", 0, std::move(cipher));
    }
    default:
      return absl::InvalidArgumentError("overwrite pass without a pattern");
  }
}

void PatternStream::Fill(uint64_t offset, std::span<uint8_t> out) {
  if (!cipher_) {
    std::memset(out.data(), fill_byte_, out.size());
    return;
  }
  unsigned char counter[16];
  std::memcpy(counter, cipher_->nonce, 8);
  const uint64_t block = offset / 16;
  for (int i = 0; i < 8; ++i) counter[8 + i] = static_cast<unsigned char>(block >> (56 - 8 * i));
  EVP_EncryptInit_ex2(cipher_->ctx.get(), nullptr, nullptr, counter, nullptr);
  if (const int skip = static_cast<int>(offset % 16); skip != 0) {
    // Mid-block start (after a short read): consume the block's first bytes.
    unsigned char discard[16] = {};
    int ignored = 0;
    EVP_EncryptUpdate(cipher_->ctx.get(), discard, &ignored, discard, skip);
  }
  // The keystream is the encryption of zeros.
  std::memset(out.data(), 0, out.size());
  size_t done = 0;
  while (done < out.size()) {
    const int step = static_cast<int>(std::min<size_t>(out.size() - done, 1 << 30));
    int written = 0;
    EVP_EncryptUpdate(cipher_->ctx.get(), out.data() + done, &written, out.data() + done, step);
    done += static_cast<size_t>(step);
  }
}

absl::StatusOr<std::vector<Extent>> AllocatedExtents(int fd, uint64_t size, uint64_t block_size) {
  if (block_size == 0) block_size = 4096;
  const auto round_down = [block_size](uint64_t v) { return v / block_size * block_size; };
  const auto round_up = [block_size](uint64_t v) {
    return (v + block_size - 1) / block_size * block_size;
  };
  std::vector<Extent> extents;
  const auto add = [&](uint64_t begin, uint64_t end) {
    begin = round_down(begin);
    end = round_up(std::min(end, size));
    if (end <= begin) return;
    if (!extents.empty() && extents.back().offset + extents.back().length >= begin) {
      extents.back().length = std::max(extents.back().offset + extents.back().length, end) -
                              extents.back().offset;
    } else {
      extents.push_back({begin, end - begin});
    }
  };
  uint64_t position = 0;
  while (position < size) {
    const off_t data = ::lseek(fd, static_cast<off_t>(position), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole remains
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        extents.clear();
        add(0, size);
        return extents;
      }
      return common::ErrnoToStatus(errno, "lseek SEEK_DATA");
    }
    const off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return common::ErrnoToStatus(errno, "lseek SEEK_HOLE");
    add(static_cast<uint64_t>(data), static_cast<uint64_t>(hole));
    position = static_cast<uint64_t>(hole);
  }
  return extents;
}

absl::Status WritePass(int fd, const std::vector<Extent>& extents, PatternStream& pattern,
                       absl::string_view display_path) {
  AlignedBuffer buffer = AllocateAligned(kChunkBytes);
  if (!buffer) return absl::ResourceExhaustedError("overwrite buffer");
  const bool constant = pattern.name() != "random";
  if (constant) pattern.Fill(0, {buffer.get(), kChunkBytes});
  for (const Extent& extent : extents) {
    for (uint64_t done = 0; done < extent.length;) {
      const size_t step = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, extent.length - done));
      const uint64_t offset = extent.offset + done;
      if (!constant) pattern.Fill(offset, {buffer.get(), step});
      const ssize_t written = ::pwrite(fd, buffer.get(), step, static_cast<off_t>(offset));
      if (written < 0) {
        if (errno == EINTR) continue;
        return common::ErrnoToStatus(errno,
                                     absl::StrCat("overwrite ", display_path, " at ", offset));
      }
      if (written == 0) {
        return absl::DataLossError(absl::StrCat("overwrite ", display_path, " at ", offset,
                                                ": the device accepted no bytes"));
      }
      done += static_cast<uint64_t>(written);
    }
  }
  if (::fdatasync(fd) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fdatasync ", display_path));
  }
  return absl::OkStatus();
}

const char* VerifyMethodName(VerifyMethod method) {
  return method == VerifyMethod::kDirectIo ? "direct_io" : "cache_dropped";
}

absl::StatusOr<VerifyMethod> VerifyPass(int fd, const std::vector<Extent>& extents,
                                        PatternStream& pattern, absl::string_view display_path) {
  // A second descriptor on the same inode (not the same path) for O_DIRECT;
  // filesystems without direct I/O (tmpfs) refuse it, and then the cached
  // pages are dropped instead.
  const std::string self = absl::StrCat("/proc/self/fd/", fd);
  common::UniqueFd direct(::open(self.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
  VerifyMethod method = direct ? VerifyMethod::kDirectIo : VerifyMethod::kCacheDropped;
  int read_fd = direct ? direct.get() : fd;
  if (!direct) {
    if (::fdatasync(fd) != 0) {
      return common::ErrnoToStatus(errno, absl::StrCat("fdatasync ", display_path));
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  AlignedBuffer data = AllocateAligned(kChunkBytes);
  AlignedBuffer expected = AllocateAligned(kChunkBytes);
  if (!data || !expected) return absl::ResourceExhaustedError("verification buffers");
  const bool constant = pattern.name() != "random";
  if (constant) pattern.Fill(0, {expected.get(), kChunkBytes});
  for (const Extent& extent : extents) {
    for (uint64_t done = 0; done < extent.length;) {
      const size_t step = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, extent.length - done));
      const uint64_t offset = extent.offset + done;
      const ssize_t got = ::pread(read_fd, data.get(), step, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && errno == EINVAL && method == VerifyMethod::kDirectIo && done == 0 &&
          &extent == &extents.front()) {
        // Direct I/O opened but the alignment does not suit the device.
        method = VerifyMethod::kCacheDropped;
        read_fd = fd;
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        continue;
      }
      if (got < 0) {
        return common::ErrnoToStatus(errno,
                                     absl::StrCat("verify ", display_path, " at ", offset));
      }
      if (got == 0) {
        return absl::DataLossError(absl::StrCat("verify ", display_path, " at ", offset,
                                                ": the file ended before the overwritten range"));
      }
      const size_t length = static_cast<size_t>(got);
      if (!constant) pattern.Fill(offset, {expected.get(), length});
      if (std::memcmp(data.get(), expected.get(), length) != 0) {
        size_t at = 0;
        while (data[at] == expected[at]) ++at;
        return absl::DataLossError(absl::StrCat("verify ", display_path, ": byte at offset ",
                                                offset + at, " is not the ", pattern.name(),
                                                " pass's"));
      }
      done += length;
    }
  }
  return method;
}

}  // namespace offboard::agent
