// Reaching a file below a wipe root without any way out of it.
//
// The wipe engine destroys data, so it must never act on anything outside the
// configured roots: not through a symlink, a "..", a bind mount or a directory
// that someone swaps for a symlink while the wipe runs. Every path is walked
// one component at a time with openat(O_NOFOLLOW) from the root's directory
// descriptor, every step is checked to stay on the root's mount, and the leaf
// is opened as O_PATH first and reopened through its own descriptor only once
// it is known to be a regular file — so a device node, FIFO or socket is never
// opened, even if it is swapped in between. After that, the engine works on
// descriptors only and never resolves the same path string twice.
//
//   OFFBOARD_ASSIGN_OR_RETURN(WipeRoot root, WipeRoot::Open("/srv/vendor"));
//   OFFBOARD_ASSIGN_OR_RETURN(ConfinedFile file,
//                             root.OpenFile("/srv/vendor/a/b.csv", O_RDWR));
//   ::pwrite(file.fd.get(), ...);  ::renameat(file.dir.get(), ...);
//
// A WipeRoot is immutable after Open and may be shared between threads.
#ifndef OFFBOARD_AGENT_WIPE_CONFINED_FILE_H_
#define OFFBOARD_AGENT_WIPE_CONFINED_FILE_H_

#include <sys/stat.h>

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/io/unique_fd.h"

namespace offboard::agent {

// An open regular file below a root, with the directory that holds its name.
struct ConfinedFile {
  common::UniqueFd dir;   // the parent directory, opened O_DIRECTORY
  std::string name;       // the file's name in `dir`
  common::UniqueFd fd;    // the file itself, opened with the requested flags
  struct stat st {};      // fstat of `fd`
};

class WipeRoot {
 public:
  // Opens `root` (absolute; symlinks in the root's own path are resolved once,
  // here) as the anchor of every later open. INVALID_ARGUMENT for a relative
  // path or one that is not a directory; FAILED_PRECONDITION on a kernel
  // without statx mount ids (before 5.8), where mounts cannot be told
  // apart; the errno status otherwise.
  static absl::StatusOr<WipeRoot> Open(const boost::filesystem::path& root);

  // The canonical absolute path of the root.
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  // True if `absolute_path` names the root or something below it, by its
  // components (no "." or ".." allowed): "/srv/vendor2" is not under
  // "/srv/vendor".
  bool Contains(absl::string_view absolute_path) const;

  // Opens the regular file `absolute_path` below the root with `flags`
  // (O_RDONLY or O_RDWR; O_NOFOLLOW and O_CLOEXEC are added). Errors, each
  // naming the path:
  //   PERMISSION_DENIED: outside the root, a "." or ".." component, a symlink
  //     anywhere on the way, a component on another mount than the root (or a
  //     mount point itself, bind mounts included), unless `cross_mounts` is set
  //     (a mount point as the leaf is refused even then, and so is a mount
  //     that could show data from outside the root: see MountLeadsOutside);
  //   FAILED_PRECONDITION: the leaf is not a regular file (device node, FIFO,
  //     socket, directory) — it is never opened;
  //   the errno status of openat otherwise (NOT_FOUND, EROFS → FAILED_PRECONDITION...).
  absl::StatusOr<ConfinedFile> OpenFile(absl::string_view absolute_path, int flags,
                                        bool cross_mounts = false) const;

  // Opens the directory that would hold `absolute_path`, by the same rules;
  // the leaf name need not exist. Used to find a renamed file again.
  absl::StatusOr<ConfinedFile> OpenParent(absl::string_view absolute_path,
                                          bool cross_mounts = false) const;

 private:
  WipeRoot(std::string path, common::UniqueFd fd, uint64_t mount_id)
      : path_(std::move(path)), fd_(std::move(fd)), mount_id_(mount_id) {}

  // The components of `absolute_path` below the root, or PERMISSION_DENIED.
  absl::StatusOr<std::vector<std::string>> RelativeComponents(
      absl::string_view absolute_path) const;

  std::string path_;
  common::UniqueFd fd_;
  uint64_t mount_id_ = 0;
};

// True if `name` in directory `dir_fd` (not followed if a symlink) is the
// inode `inode` on device `device`: how a journaled or held name is found
// again, and checked before it is unlinked.
bool NameHoldsInode(int dir_fd, const std::string& name, uint64_t device, uint64_t inode);

// The root among `roots` that contains `absolute_path`, the innermost if they
// nest; nullptr if none does.
const WipeRoot* FindRoot(const std::vector<WipeRoot>& roots, absl::string_view absolute_path);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_CONFINED_FILE_H_
