#include "common/io/write_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/filesystem/operations.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

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
  // The file's content is durable already; a directory that cannot be synced
  // (some filesystems refuse) does not undo the write.
  SyncDirectory(parent).IgnoreError();
  return absl::OkStatus();
}

absl::Status SyncDirectory(const boost::filesystem::path& dir) {
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoToStatus(errno, absl::StrCat("open directory ", dir.string()));
  const int synced = ::fsync(dir_fd);
  const int sync_error = errno;
  ::close(dir_fd);
  // Some filesystems (CIFS, some FUSE) cannot sync a directory at all; that
  // is their limit, not a failure of this write.
  if (synced != 0 && sync_error != EINVAL && sync_error != ENOTSUP) {
    return absl::InternalError(
        absl::StrCat("fsync ", dir.string(), ": ", std::strerror(sync_error)));
  }
  return absl::OkStatus();
}

absl::Status CreateDirectoriesDurably(const boost::filesystem::path& dir) {
  boost::system::error_code error;
  if (dir.empty() || boost::filesystem::is_directory(dir, error)) return absl::OkStatus();
  OFFBOARD_RETURN_IF_ERROR(CreateDirectoriesDurably(dir.parent_path()));
  if (!boost::filesystem::create_directory(dir, error) && error) {
    return absl::InternalError(absl::StrCat("create ", dir.string(), ": ", error.message()));
  }
  return SyncDirectory(dir.has_parent_path() ? dir.parent_path() : boost::filesystem::path("."));
}

}  // namespace offboard::common
