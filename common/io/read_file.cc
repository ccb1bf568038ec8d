#include "common/io/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/io/unique_fd.h"
#include "common/status/errno_status.h"

namespace offboard::common {
absl::StatusOr<std::string> ReadFileToString(const boost::filesystem::path& path,
                                             uint64_t max_bytes) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(errno, path.string());
  return ReadFdToString(fd.get(), path, max_bytes);
}

absl::StatusOr<std::string> ReadFdToString(int fd, const boost::filesystem::path& path,
                                           uint64_t max_bytes) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return ErrnoToStatus(errno, path.string());
  if (S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": is a directory"));
  }
  const auto over_limit = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": larger than the limit of ", max_bytes, " bytes"));
  };
  if (static_cast<uint64_t>(std::max<off_t>(info.st_size, 0)) > max_bytes) return over_limit();
  // One byte of slack, so that a file of the stated size ends without a resize.
  std::string data(static_cast<size_t>(std::max<off_t>(info.st_size, 0)) + 1, '\0');
  size_t used = 0;
  for (;;) {
    const ssize_t n = ::read(fd, data.data() + used, data.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, absl::StrCat("read ", path.string()));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (used > max_bytes) return over_limit();
    if (used == data.size()) data.resize(data.size() * 2);
  }
  data.resize(used);
  return data;
}

}  // namespace offboard::common
