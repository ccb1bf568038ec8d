#include <sys/mman.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_target.h"

namespace offboard::fuzz {

MemoryFile::MemoryFile(const uint8_t* data, size_t size) {
  fd_ = memfd_create("offboard-fuzz", MFD_CLOEXEC);
  OFFBOARD_FUZZ_CHECK(fd_ >= 0, "memfd_create");
  size_t written = 0;
  while (written < size) {
    ssize_t n = write(fd_, data + written, size - written);
    OFFBOARD_FUZZ_CHECK(n > 0, "write to memfd");
    written += static_cast<size_t>(n);
  }
  OFFBOARD_FUZZ_CHECK(lseek(fd_, 0, SEEK_SET) == 0, "lseek memfd");
}

MemoryFile::~MemoryFile() { close(fd_); }

std::string MemoryFile::path() const { return "/proc/self/fd/" + std::to_string(fd_); }

}  // namespace offboard::fuzz
