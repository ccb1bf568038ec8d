// An owned file descriptor, closed when it goes out of scope: every open(2)
// in Offboard is held by one of these rather than closed by hand on each
// error path. Move-only; not thread-safe.
//
//   UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd) return ErrnoToStatus(errno, path);
//   ::read(fd.get(), ...);
#ifndef OFFBOARD_COMMON_IO_UNIQUE_FD_H_
#define OFFBOARD_COMMON_IO_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace offboard::common {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_IO_UNIQUE_FD_H_
