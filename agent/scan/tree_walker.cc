#include "agent/scan/tree_walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/scan/mount_info.h"
#include "common/status/errno_status.h"

namespace offboard::agent {
namespace {

constexpr absl::string_view kMountedFile =
    "file mounted from another filesystem, not scanned (use --cross-filesystems)";

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

std::string Join(const std::string& dir, const char* name) {
  return dir == "/" ? absl::StrCat("/", name) : absl::StrCat(dir, "/", name);
}

// Lexically normal absolute form of `target` read from a symlink in `dir`.
std::string ResolveLexically(const std::string& dir, const std::string& target) {
  boost::filesystem::path joined = target.starts_with("/") ? boost::filesystem::path(target)
                                                           : boost::filesystem::path(dir) / target;
  return joined.lexically_normal().string();
}

// Whether an entry whose device is not its tree's is still on the walk's
// mount: a btrfs subvolume (a device of its own, not mounted anywhere) or a
// file of an overlay's lower layer. Something mounted there, even another
// view of the same filesystem, is a mount of its own with another id.
bool OnMount(int dir_fd, const char* name, int flags, uint64_t mount_id) {
  if (mount_id == 0) return false;
  const absl::StatusOr<MountStat> stat = StatMount(dir_fd, name, flags, name);
  return stat.ok() && stat->mount_id == mount_id;
}

// Where something is mounted, from /proc/self/mountinfo, or nullopt when it
// cannot be read or parsed (the walk then stats every entry).
std::optional<std::unordered_set<std::string>> ReadMountPoints() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  if (!mountinfo) return std::nullopt;
  std::unordered_set<std::string> points;
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::optional<MountInfoEntry> entry = ParseMountInfoLine(line);
    if (!entry) return std::nullopt;
    points.insert(std::move(entry->mount_point));
  }
  if (mountinfo.bad()) return std::nullopt;
  return points;
}

// Walk state shared by the directories of one root.
class Walker {
 public:
  Walker(const WalkOptions& options, const std::function<void(WalkedFile)>& on_file,
         std::vector<ScanError>& errors, uint64_t root_mount_id)
      : options_(options),
        on_file_(on_file),
        errors_(errors),
        root_mount_id_(root_mount_id),
        mount_points_(ReadMountPoints()) {}

  void WalkDirectory(std::shared_ptr<const DirectoryHandle> dir, const std::string& path,
                     dev_t root_device);
  void MarkVisited(const struct stat& info) {
    visited_directories_.insert({info.st_dev, info.st_ino});
  }

 private:
  void ReportSymlinkIfLoop(int dir_fd, const char* name, const std::string& path);
  void Error(const std::string& path, std::string reason) {
    errors_.push_back(ScanError{.path = path, .member = {}, .reason = std::move(reason)});
  }

  const WalkOptions& options_;
  const std::function<void(WalkedFile)>& on_file_;
  std::vector<ScanError>& errors_;
  std::set<std::pair<dev_t, ino_t>> visited_directories_;
  std::set<std::string> reported_loops_;
  const uint64_t root_mount_id_;  // 0 when the kernel cannot say
  // Entries where something is mounted are stat'ed whatever their d_type:
  // the listing gives the type of the covered entry, not of what is mounted
  // on it (/dev/null bound over a file, as containers do). Without the list,
  // every entry is. A mount made during the walk is not in the list: what it
  // puts there is opened (without blocking, never as a controlling terminal)
  // before OpenWalkedFile refuses it, as with a file swapped after a stat.
  const std::optional<std::unordered_set<std::string>> mount_points_;
};

void Walker::ReportSymlinkIfLoop(int dir_fd, const char* name, const std::string& path) {
  struct stat target {};
  if (::fstatat(dir_fd, name, &target, 0) == 0 || errno != ELOOP) return;
  // Follow the chain of links by their text to name the loop by its smallest
  // member, so that a loop of several links is reported once.
  std::vector<std::string> chain = {path};
  std::string current = path;
  std::string loop_key = path;
  for (int hop = 0; hop < 40; ++hop) {
    char buffer[PATH_MAX];
    const ssize_t length = ::readlink(current.c_str(), buffer, sizeof(buffer) - 1);
    if (length < 0) break;
    const std::string parent = boost::filesystem::path(current).parent_path().string();
    const std::string next = ResolveLexically(parent, std::string(buffer, length));
    const auto seen = std::find(chain.begin(), chain.end(), next);
    if (seen != chain.end()) {
      loop_key = *std::min_element(seen, chain.end());
      break;
    }
    chain.push_back(next);
    current = next;
  }
  if (reported_loops_.insert(loop_key).second) {
    Error(path, absl::StrCat("symlink loop (through ", loop_key, ")"));
  }
}

void Walker::WalkDirectory(std::shared_ptr<const DirectoryHandle> dir, const std::string& path,
                           dev_t root_device) {
  // Read the whole listing first, so that at most one DIR stream per level of
  // recursion is open while files are handed out.
  std::vector<std::pair<std::string, unsigned char>> entries;  // name, d_type
  {
    const int listing_fd = ::dup(dir->fd());
    if (listing_fd < 0) {
      Error(path, common::ErrnoToStatus(errno, "dup").ToString());
      return;
    }
    std::unique_ptr<DIR, DirCloser> listing(::fdopendir(listing_fd));
    if (!listing) {
      ::close(listing_fd);
      Error(path, absl::StrCat("cannot list directory: ", std::strerror(errno)));
      return;
    }
    ::rewinddir(listing.get());
    errno = 0;
    while (const dirent* entry = ::readdir(listing.get())) {
      if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
        entries.emplace_back(entry->d_name, entry->d_type);
      }
      errno = 0;
    }
    if (errno != 0) Error(path, absl::StrCat("cannot list directory: ", std::strerror(errno)));
  }

  for (const auto& [name, type] : entries) {
    const std::string child = Join(path, name.c_str());
    if (type == DT_REG && mount_points_.has_value() && !mount_points_->contains(child)) {
      // The listing says regular file and nothing is mounted on it:
      // OpenWalkedFile checks what it opens (type and filesystem) with fstat,
      // so no stat of the name here. In a tree of small files that lookup
      // was a fifth of the scan's CPU.
      on_file_(WalkedFile{.dir = dir,
                          .name = name,
                          .path = child,
                          .root_device = root_device,
                          .root_mount_id = root_mount_id_});
      continue;
    }
    struct stat info {};
    if (::fstatat(dir->fd(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) Error(child, absl::StrCat("cannot stat: ", std::strerror(errno)));
      continue;  // removed since the listing: nothing left to find
    }
    const bool other_device = info.st_dev != root_device;
    if (S_ISREG(info.st_mode)) {
      if (other_device && !options_.cross_filesystems &&
          !OnMount(dir->fd(), name.c_str(), 0, root_mount_id_)) {
        // A single file bind-mounted in from elsewhere (a container's secret).
        Error(child, std::string(kMountedFile));
        continue;
      }
      on_file_(WalkedFile{.dir = dir,
                          .name = name,
                          .path = child,
                          .info = info,
                          .root_device = root_device,
                          .root_mount_id = root_mount_id_});
    } else if (S_ISDIR(info.st_mode)) {
      if (other_device && !options_.cross_filesystems &&
          !OnMount(dir->fd(), name.c_str(), 0, root_mount_id_)) {
        Error(child, "mount point of another filesystem, not scanned (use --cross-filesystems)");
        continue;
      }
      const int fd =
          ::openat(dir->fd(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        Error(child, absl::StrCat("cannot open directory: ", std::strerror(errno)));
        continue;
      }
      auto handle = std::make_shared<const DirectoryHandle>(fd);
      struct stat opened {};
      // What was opened is what was looked at, and, when its device is not
      // its parent's, still on the root's mount.
      if (::fstat(fd, &opened) != 0 || opened.st_dev != info.st_dev ||
          opened.st_ino != info.st_ino ||
          (other_device && !options_.cross_filesystems &&
           !OnMount(fd, "", AT_EMPTY_PATH, root_mount_id_))) {
        Error(child, "directory changed while it was being opened, not scanned");
        continue;
      }
      // A bind mount can show one directory twice; walk it once.
      if (!visited_directories_.insert({opened.st_dev, opened.st_ino}).second) continue;
      // Below a btrfs subvolume, its files carry its device.
      WalkDirectory(std::move(handle), child, other_device ? opened.st_dev : root_device);
    } else if (S_ISLNK(info.st_mode)) {
      ReportSymlinkIfLoop(dir->fd(), name.c_str(), child);
    }
    // Device nodes, FIFOs and sockets hold no delivered file and are never opened.
  }
}

}  // namespace

DirectoryHandle::~DirectoryHandle() { ::close(fd_); }

absl::StatusOr<OpenedFile> OpenWalkedFile(const WalkedFile& file, const WalkOptions& options) {
  // O_NONBLOCK: a FIFO swapped in since the walk must not hang the caller;
  // O_NOATIME: looking must not change what we look at (falls back if not ours).
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  int fd = ::openat(file.dir->fd(), file.name.c_str(), flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(file.dir->fd(), file.name.c_str(), flags);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError("removed since the walk");
    return absl::FailedPreconditionError(absl::StrCat("cannot open: ", std::strerror(errno)));
  }
  OpenedFile opened{.fd = common::UniqueFd(fd)};
  if (::fstat(fd, &opened.info) != 0 || !S_ISREG(opened.info.st_mode)) {
    return absl::FailedPreconditionError(
        "changed into something other than a regular file during the scan");
  }
  if (opened.info.st_dev != file.root_device && !options.cross_filesystems &&
      !OnMount(fd, "", AT_EMPTY_PATH, file.root_mount_id)) {
    // A single file bind-mounted in from elsewhere (a container's secret).
    return absl::FailedPreconditionError(kMountedFile);
  }
  return opened;
}

absl::Status WalkTree(const boost::filesystem::path& root, const WalkOptions& options,
                      const std::function<void(WalkedFile)>& on_file,
                      std::vector<ScanError>& errors) {
  char resolved[PATH_MAX];
  if (::realpath(root.c_str(), resolved) == nullptr) {
    return common::ErrnoToStatus(errno, absl::StrCat("scan root ", root.string()));
  }
  const std::string root_path = resolved;
  struct stat info {};
  if (::stat(resolved, &info) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("scan root ", root_path));
  }
  if (S_ISREG(info.st_mode)) {
    const boost::filesystem::path as_path(root_path);
    const int parent = ::open(as_path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0) {
      return common::ErrnoToStatus(errno, absl::StrCat("scan root ", root_path));
    }
    // The file's own device is its tree's: no mount id is needed.
    on_file(WalkedFile{.dir = std::make_shared<const DirectoryHandle>(parent),
                       .name = as_path.filename().string(),
                       .path = root_path,
                       .info = info,
                       .root_device = info.st_dev});
    return absl::OkStatus();
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scan root ", root_path, " is neither a directory nor a regular file"));
  }
  const int fd = ::open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return common::ErrnoToStatus(errno, absl::StrCat("scan root ", root_path));
  auto root_dir = std::make_shared<const DirectoryHandle>(fd);
  // Device and mount of what was opened, not of the path looked at before.
  struct stat opened {};
  if (::fstat(fd, &opened) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("scan root ", root_path));
  }
  // 0 (no entry of another device is then taken for the root's mount) when
  // the kernel cannot say.
  const uint64_t root_mount_id =
      StatMount(fd, "", AT_EMPTY_PATH, root_path).value_or(MountStat{}).mount_id;
  Walker walker(options, on_file, errors, root_mount_id);
  walker.MarkVisited(opened);
  walker.WalkDirectory(std::move(root_dir), root_path, opened.st_dev);
  return absl::OkStatus();
}

}  // namespace offboard::agent
