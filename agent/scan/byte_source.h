// A stream of bytes being examined: a file on disk, or an archive member while
// libarchive decompresses it. Decompressed data only ever lives in memory
// buffers; nothing is written to disk, since every temporary file would be a
// new copy of the bank's data.
//
// Not thread-safe: one reader at a time.
#ifndef OFFBOARD_AGENT_SCAN_BYTE_SOURCE_H_
#define OFFBOARD_AGENT_SCAN_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace offboard::agent {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to buffer.size() bytes; 0 means end of stream. An error names
  // what failed (e.g. "gzip: truncated input"); after an error the source is
  // not read again.
  virtual absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) = 0;
};

// Reads a file descriptor from its current offset; does not own `fd`.
class FdByteSource final : public ByteSource {
 public:
  explicit FdByteSource(int fd) : fd_(fd) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override;
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  int fd_;
  uint64_t bytes_read_ = 0;
};

// Something that looks at every byte of one stream as it passes (a hasher, the
// derived-copy matcher). Consume is called with consecutive chunks.
class ContentConsumer {
 public:
  virtual ~ContentConsumer() = default;
  virtual void Consume(std::span<const uint8_t> chunk) = 0;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_BYTE_SOURCE_H_
