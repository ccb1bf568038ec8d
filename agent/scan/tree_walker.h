// Walks a scan root and hands every regular file to the caller, safely:
// symlinks are never followed (a link inside the root reaches a file the walk
// visits anyway; a link out of the root leads out of scope), every directory
// is opened relative to its parent's descriptor with O_NOFOLLOW, the walk stays
// on the root's filesystem unless asked, and device nodes, FIFOs and sockets
// are never opened.
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
#include "agent/scan/finding.h"

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
  struct stat info {};                         // lstat at walk time
};

struct WalkOptions {
  bool cross_filesystems = false;
};

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
