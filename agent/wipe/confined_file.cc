#include "agent/wipe/confined_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/filesystem/operations.hpp>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/scan/mount_info.h"
#include "common/io/read_file.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

using common::UniqueFd;

// Checks that a freshly opened component stays on the root's mount, or, when
// crossing mounts is allowed, on a mount that shows nothing from outside the
// root at `root_path`.
absl::Status CheckSameMount(int fd, uint64_t root_mount_id, absl::string_view root_path,
                            bool cross_mounts, bool leaf, absl::string_view what) {
  OFFBOARD_ASSIGN_OR_RETURN(const MountStat facts, StatMount(fd, "", AT_EMPTY_PATH, what));
  if (facts.mount_root && (leaf || !cross_mounts)) {
    return absl::PermissionDeniedError(absl::StrCat(what, ": is a mount point; refusing"));
  }
  if (facts.mount_id == root_mount_id) return absl::OkStatus();
  if (!cross_mounts) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": on another mount than the root; refusing"));
  }
  absl::StatusOr<std::string> mountinfo = common::ReadFileToString("/proc/self/mountinfo");
  if (!mountinfo.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(what,
                                                    ": on another mount, which cannot be checked (",
                                                    mountinfo.status().message(), "); refusing"));
  }
  if (std::optional<std::string> reason =
          MountLeadsOutside(*mountinfo, facts.mount_id, root_path)) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, ": on another mount that leads out of the wipe root: ", *reason, "; refusing"));
  }
  return absl::OkStatus();
}

absl::Status OpenComponentError(int error, absl::string_view what) {
  if (error == ELOOP || error == ENOTDIR) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": a symlink or non-directory on the way; refusing to follow"));
  }
  return common::ErrnoToStatus(error, what);
}

}  // namespace

absl::StatusOr<WipeRoot> WipeRoot::Open(const boost::filesystem::path& root) {
  if (!root.is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat("wipe root ", root.string(), ": must be an absolute path"));
  }
  boost::system::error_code error;
  const boost::filesystem::path canonical = boost::filesystem::canonical(root, error);
  if (error) {
    return common::ErrnoToStatus(error.value(), absl::StrCat("wipe root ", root.string()));
  }
  UniqueFd fd(::open(canonical.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    const int open_error = errno;
    if (open_error == ENOTDIR) {
      return absl::InvalidArgumentError(
          absl::StrCat("wipe root ", root.string(), ": not a directory"));
    }
    return common::ErrnoToStatus(open_error, absl::StrCat("wipe root ", root.string()));
  }
  OFFBOARD_ASSIGN_OR_RETURN(
      const MountStat facts,
      StatMount(fd.get(), "", AT_EMPTY_PATH, absl::StrCat("wipe root ", root.string())));
  // Without mount ids every component would pass for the root's mount (0 is
  // 0), bind mounts leading out included.
  if (facts.mount_id == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "wipe root ", root.string(),
        ": this kernel does not report mount ids (statx STATX_MNT_ID, Linux 5.8 or later), so "
        "the wipe cannot keep to the root's mount; refusing"));
  }
  return WipeRoot(canonical.string(), std::move(fd), facts.mount_id);
}

bool WipeRoot::Contains(absl::string_view absolute_path) const {
  return RelativeComponents(absolute_path).ok();
}

absl::StatusOr<std::vector<std::string>> WipeRoot::RelativeComponents(
    absl::string_view absolute_path) const {
  const absl::string_view root = path_ == "/" ? absl::string_view() : absl::string_view(path_);
  if (!absl::StartsWith(absolute_path, root) ||
      (absolute_path.size() > root.size() && absolute_path[root.size()] != '/')) {
    return absl::PermissionDeniedError(
        absl::StrCat(absolute_path, ": outside the wipe root ", path_, "; refusing"));
  }
  std::vector<std::string> components;
  for (absl::string_view part :
       absl::StrSplit(absolute_path.substr(root.size()), '/', absl::SkipEmpty())) {
    if (part == "." || part == "..") {
      return absl::PermissionDeniedError(
          absl::StrCat(absolute_path, ": '", part, "' in the path; refusing"));
    }
    components.emplace_back(part);
  }
  return components;
}

absl::StatusOr<ConfinedFile> WipeRoot::OpenParent(absl::string_view absolute_path,
                                                  bool cross_mounts) const {
  OFFBOARD_ASSIGN_OR_RETURN(std::vector<std::string> components,
                            RelativeComponents(absolute_path));
  if (components.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat(absolute_path, ": is the wipe root itself; refusing"));
  }
  ConfinedFile result;
  result.name = components.back();
  components.pop_back();
  UniqueFd dir(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir) return common::ErrnoToStatus(errno, absl::StrCat("dup wipe root ", path_));
  std::string walked = path_;
  for (const std::string& component : components) {
    absl::StrAppend(&walked, walked == "/" ? "" : "/", component);
    UniqueFd next(
        ::openat(dir.get(), component.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return OpenComponentError(errno, walked);
    OFFBOARD_RETURN_IF_ERROR(CheckSameMount(next.get(), mount_id_, path_, cross_mounts,
                                            /*leaf=*/false, walked));
    dir = std::move(next);
  }
  result.dir = std::move(dir);
  if (::fstat(result.dir.get(), &result.st) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fstat ", walked));
  }
  return result;
}

absl::StatusOr<ConfinedFile> WipeRoot::OpenFile(absl::string_view absolute_path, int flags,
                                                bool cross_mounts) const {
  OFFBOARD_ASSIGN_OR_RETURN(ConfinedFile file, OpenParent(absolute_path, cross_mounts));
  // O_PATH opens nothing: no driver is called for a device node and no FIFO
  // blocks; the real open happens only once the inode is known to be a file.
  UniqueFd handle(::openat(file.dir.get(), file.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!handle) return common::ErrnoToStatus(errno, absolute_path);
  struct stat handle_st {};
  if (::fstat(handle.get(), &handle_st) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fstat ", absolute_path));
  }
  if (S_ISLNK(handle_st.st_mode)) {
    return absl::PermissionDeniedError(
        absl::StrCat(absolute_path, ": is a symlink; refusing to follow"));
  }
  if (!S_ISREG(handle_st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(absolute_path, ": not a regular file (device node, FIFO, socket or "
                                    "directory); refusing to open"));
  }
  OFFBOARD_RETURN_IF_ERROR(
      CheckSameMount(handle.get(), mount_id_, path_, cross_mounts, /*leaf=*/true, absolute_path));
  // Reopening through the descriptor's /proc link reaches exactly this inode,
  // whatever has happened to the name since.
  const std::string self = absl::StrCat("/proc/self/fd/", handle.get());
  file.fd = UniqueFd(::open(self.c_str(), (flags & ~O_CREAT) | O_CLOEXEC | O_NOCTTY));
  if (!file.fd) return common::ErrnoToStatus(errno, absolute_path);
  if (::fstat(file.fd.get(), &file.st) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fstat ", absolute_path));
  }
  if (file.st.st_dev != handle_st.st_dev || file.st.st_ino != handle_st.st_ino) {
    return absl::AbortedError(absl::StrCat(absolute_path, ": changed while being opened"));
  }
  return file;
}

bool NameHoldsInode(int dir_fd, const std::string& name, uint64_t device, uint64_t inode) {
  struct stat st {};
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         static_cast<uint64_t>(st.st_dev) == device && static_cast<uint64_t>(st.st_ino) == inode;
}

const WipeRoot* FindRoot(const std::vector<WipeRoot>& roots, absl::string_view absolute_path) {
  const WipeRoot* best = nullptr;
  for (const WipeRoot& root : roots) {
    if (root.Contains(absolute_path) && (best == nullptr || root.path().size() > best->path().size())) {
      best = &root;
    }
  }
  return best;
}

}  // namespace offboard::agent
