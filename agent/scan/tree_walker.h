// Walks a scan root and hands every regular file to the caller, safely:
// symlinks are never followed (a link inside the root reaches a file the walk
// visits anyway; a link out of the root leads out of scope), every directory
// is opened relative to its parent's descriptor with O_NOFOLLOW, the walk stays
// on the root's mount unless asked, and device nodes, FIFOs and sockets
// are never opened. Files are opened with OpenWalkedFile, which checks the
// same of what it opened.
//
// What cannot be walked is reported, never skipped silently: unreadable
// directories, mount points left out, symlink loops (once per loop).
//
// Not thread-safe; the WalkedFile handles it produces may be used by other
// threads (each holds its directory open).
#ifndef OFFBOARD_AGENT_SCAN_TREE_WALKER_H_
#define OFFBOARD_AGENT_SCAN_TREE_WALKER_H_

#include <sys/stat.h>

#include <boost/filesystem/path.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/scan/finding.h"
#include "common/io/unique_fd.h"

namespace offboard::agent {

// An open directory descriptor, closed when the last user lets go.
class DirectoryHandle {
 public:
  explicit DirectoryHandle(int fd) : fd_(fd) {}
  ~DirectoryHandle();
  DirectoryHandle(const DirectoryHandle&) = delete;
  DirectoryHandle& operator=(const DirectoryHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct WalkedFile {
  std::shared_ptr<const DirectoryHandle> dir;  // the directory holding the file
  std::string name;                            // entry name inside `dir`
  std::string path;                            // absolute path, for reports
  // lstat at walk time, or all zero when the directory listing already said
  // the entry is a regular file (d_type): then the walk saves a lookup of the
  // name, and OpenWalkedFile checks what it opens instead.
  struct stat info {};
  // The device of the tree the file was found in: the root's, or that of a
  // btrfs subvolume below it (a device of its own on the root's mount).
  dev_t root_device = 0;
  uint64_t root_mount_id = 0;  // the mount the walk stays on (statx); 0: unknown
};

struct WalkOptions {
  bool cross_filesystems = false;
};

// A walked file, open for reading, with fstat of what was opened.
struct OpenedFile {
  common::UniqueFd fd;
  struct stat info {};
};

// Opens `file` relative to its directory without following a symlink,
// without blocking on a FIFO and without changing its access time (where the
// caller may), and checks that what opened is a regular file on the root's
// mount (unless `options` cross filesystems). NOT_FOUND when the file
// was removed since the walk (nothing is left to examine); otherwise
// FAILED_PRECONDITION whose message is the reason to report for its path.
absl::StatusOr<OpenedFile> OpenWalkedFile(const WalkedFile& file, const WalkOptions& options);

// Calls `on_file` for each regular file under `root` (or for `root` itself if
// it is a regular file). The root may itself be a symlink, which is resolved
// once: the user named it. NOT_FOUND / INVALID_ARGUMENT when the root does not
// exist or is neither a directory nor a regular file; problems below the root
// go to `errors` and the walk goes on.
absl::Status WalkTree(const boost::filesystem::path& root, const WalkOptions& options,
                      const std::function<void(WalkedFile)>& on_file,
                      std::vector<ScanError>& errors);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_TREE_WALKER_H_
