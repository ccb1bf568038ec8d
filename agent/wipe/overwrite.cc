#include "agent/wipe/overwrite.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/io/unique_fd.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

// Large enough that syscalls and cipher set-up vanish; a multiple of every
// block size and of the O_DIRECT alignment.
constexpr size_t kChunkBytes = 16 << 20;
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

void PatternStream::SeekKeystream(uint64_t offset) {
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
}

void PatternStream::XorKeystream(uint64_t offset, std::span<uint8_t> data) {
  SeekKeystream(offset);
  // CTR encryption is data XOR keystream.
  for (size_t done = 0; done < data.size();) {
    const int step = static_cast<int>(std::min<size_t>(data.size() - done, 1 << 30));
    int written = 0;
    EVP_EncryptUpdate(cipher_->ctx.get(), data.data() + done, &written, data.data() + done, step);
    done += static_cast<size_t>(step);
  }
}

void PatternStream::Fill(uint64_t offset, std::span<uint8_t> out) {
  if (!cipher_) {
    std::memset(out.data(), fill_byte_, out.size());
    return;
  }
  // The keystream is the encryption of zeros.
  std::memset(out.data(), 0, out.size());
  XorKeystream(offset, out);
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

namespace {

// The extents cut into pieces of at most `chunk` bytes (offsets stay aligned).
std::vector<Extent> Chunks(const std::vector<Extent>& extents, size_t chunk) {
  std::vector<Extent> out;
  for (const Extent& extent : extents) {
    for (uint64_t done = 0; done < extent.length;) {
      const uint64_t step = std::min<uint64_t>(chunk, extent.length - done);
      out.push_back({extent.offset + done, step});
      done += step;
    }
  }
  return out;
}

// Whole-range pwrite/pread: the bytes done, or -errno.
ssize_t WriteAll(int fd, const uint8_t* data, size_t length, uint64_t offset) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pwrite(fd, data + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

ssize_t ReadAll(int fd, uint8_t* data, size_t length, uint64_t offset) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, data + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

absl::Status WritePass(int fd, const std::vector<Extent>& extents, PatternStream& pattern,
                       absl::string_view display_path) {
  // O_DIRECT through a second descriptor on the same inode: no copy into the
  // page cache (which costs more CPU than the keystream) and no cached pages
  // of the old content left behind. Filesystems without it use the cache.
  const std::string self = absl::StrCat("/proc/self/fd/", fd);
  common::UniqueFd direct(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
  int write_fd = direct ? direct.get() : fd;
  AlignedBuffer buffers[2] = {AllocateAligned(kChunkBytes), AllocateAligned(kChunkBytes)};
  if (!buffers[0] || !buffers[1]) return absl::ResourceExhaustedError("overwrite buffers");
  const bool constant = pattern.name() != "random";
  if (constant) pattern.Fill(0, {buffers[0].get(), kChunkBytes});
  const std::vector<Extent> chunks = Chunks(extents, kChunkBytes);
  // The keystream of the next chunk is made while this one is written.
  const auto fill = [&](size_t i) {
    pattern.Fill(chunks[i].offset, {buffers[i % 2].get(), static_cast<size_t>(chunks[i].length)});
  };
  std::future<void> next;
  if (!constant && !chunks.empty()) next = std::async(std::launch::async, fill, 0);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const uint8_t* data = buffers[constant ? 0 : i % 2].get();
    if (!constant) {
      next.get();
      if (i + 1 < chunks.size()) next = std::async(std::launch::async, fill, i + 1);
    }
    const size_t length = static_cast<size_t>(chunks[i].length);
    ssize_t written = WriteAll(write_fd, data, length, chunks[i].offset);
    if (written == -EINVAL && write_fd != fd && i == 0) {
      write_fd = fd;  // direct I/O opened, but the device wants other alignment
      written = WriteAll(write_fd, data, length, chunks[i].offset);
    }
    if (written < 0 || static_cast<size_t>(written) != length) {
      if (next.valid()) next.wait();
      if (written < 0) {
        return common::ErrnoToStatus(static_cast<int>(-written),
                                     absl::StrCat("overwrite ", display_path, " at ", chunks[i].offset));
      }
      return absl::DataLossError(absl::StrCat("overwrite ", display_path, " at ",
                                              chunks[i].offset + static_cast<uint64_t>(written),
                                              ": the device accepted no more bytes"));
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
  if (!direct) {
    if (::fdatasync(fd) != 0) {
      return common::ErrnoToStatus(errno, absl::StrCat("fdatasync ", display_path));
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  int read_fd = direct ? direct.get() : fd;
  // Reads run kReadAhead chunks ahead of the comparison, on their own threads.
  constexpr size_t kReadAhead = 2;
  std::vector<AlignedBuffer> buffers;
  for (size_t i = 0; i <= kReadAhead; ++i) buffers.push_back(AllocateAligned(kChunkBytes));
  AlignedBuffer expected = AllocateAligned(kChunkBytes);
  for (const AlignedBuffer& buffer : buffers) {
    if (!buffer) return absl::ResourceExhaustedError("verification buffers");
  }
  if (!expected) return absl::ResourceExhaustedError("verification buffers");
  const bool constant = pattern.name() != "random";
  if (constant) pattern.Fill(0, {expected.get(), kChunkBytes});
  const std::vector<Extent> chunks = Chunks(extents, kChunkBytes);
  const auto read = [&](size_t i) {
    return ReadAll(read_fd, buffers[i % buffers.size()].get(),
                   static_cast<size_t>(chunks[i].length), chunks[i].offset);
  };
  // Direct I/O may open and still refuse this device's alignment: then fall
  // back before any read-ahead starts.
  if (!chunks.empty() && method == VerifyMethod::kDirectIo &&
      ReadAll(read_fd, buffers[0].get(), std::min<size_t>(4096, chunks[0].length),
              chunks[0].offset) == -EINVAL) {
    method = VerifyMethod::kCacheDropped;
    read_fd = fd;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  std::deque<std::future<ssize_t>> ahead;
  size_t issued = 0;
  const auto top_up = [&] {
    while (issued < chunks.size() && ahead.size() < kReadAhead) {
      ahead.push_back(std::async(std::launch::async, read, issued++));
    }
  };
  const auto drain = [&] {
    for (std::future<ssize_t>& pending : ahead) pending.wait();
  };
  top_up();
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ssize_t got = ahead.front().get();
    ahead.pop_front();
    const uint64_t offset = chunks[i].offset;
    const size_t length = static_cast<size_t>(chunks[i].length);
    if (got < 0 || static_cast<size_t>(got) != length) {
      drain();
      if (got < 0) {
        return common::ErrnoToStatus(static_cast<int>(-got),
                                     absl::StrCat("verify ", display_path, " at ", offset));
      }
      return absl::DataLossError(absl::StrCat("verify ", display_path, " at ", offset,
                                              ": the file ended before the overwritten range"));
    }
    uint8_t* data = buffers[i % buffers.size()].get();
    bool differs;
    if (constant) {
      differs = std::memcmp(data, expected.get(), length) != 0;
    } else {
      // XOR with the keystream: a correct chunk becomes all zeros, with no
      // second buffer to fill and compare.
      pattern.XorKeystream(offset, {data, length});
      uint64_t any = 0;
      for (size_t j = 0; j + 8 <= length; j += 8) {
        uint64_t word;
        std::memcpy(&word, data + j, 8);
        any |= word;
      }
      differs = any != 0;
      if (differs) pattern.XorKeystream(offset, {data, length});  // the bytes as read, again
    }
    if (differs) {
      drain();
      if (!constant) pattern.Fill(offset, {expected.get(), length});
      size_t at = 0;
      while (data[at] == expected[at]) ++at;
      return absl::DataLossError(absl::StrCat("verify ", display_path, ": byte at offset ",
                                              offset + at, " is not the ", pattern.name(),
                                              " pass's"));
    }
    top_up();
  }
  return method;
}

}  // namespace offboard::agent
