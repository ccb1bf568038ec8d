#include "agent/scan/byte_source.h"

#include <unistd.h>

#include <cerrno>

#include "common/status/errno_status.h"

namespace offboard::agent {

absl::StatusOr<size_t> FdByteSource::Read(std::span<uint8_t> buffer) {
  for (;;) {
    const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n >= 0) {
      bytes_read_ += static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    }
    if (errno != EINTR) return common::ErrnoToStatus(errno, "read");
  }
}

}  // namespace offboard::agent
