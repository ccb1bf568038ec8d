#include "common/io/write_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/errno_status.h"

namespace offboard::common {
namespace {

absl::Status WriteAll(int fd, absl::string_view contents, const std::string& name) {
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, absl::StrCat("write ", name));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return ErrnoToStatus(errno, absl::StrCat("fsync ", name));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const boost::filesystem::path& path, absl::string_view contents,
                                 mode_t mode, ExistingFile existing) {
  const boost::filesystem::path parent =
      path.has_parent_path() ? path.parent_path() : boost::filesystem::path(".");
  std::string temp = (parent / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("create a file beside ", path.string()));
  absl::Status status = WriteAll(fd, contents, temp);
  if (status.ok() && ::fchmod(fd, mode) != 0) {
    status = ErrnoToStatus(errno, absl::StrCat("chmod ", temp));
  }
  ::close(fd);
  if (status.ok() && existing == ExistingFile::kReplace &&
      ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoToStatus(errno, absl::StrCat("rename to ", path.string()));
  }
  // link() fails when the target exists, where rename() would replace it.
  if (status.ok() && existing == ExistingFile::kKeep) {
    if (::link(temp.c_str(), path.c_str()) != 0) {
      status = ErrnoToStatus(errno, absl::StrCat("create ", path.string()));
    }
    ::unlink(temp.c_str());
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace offboard::common
