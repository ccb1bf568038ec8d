// Lines of /proc/self/mountinfo (proc(5)), parsed once for the parts that need
// them: the scanner's walk, which must stat every mount point because a
// directory entry's d_type describes what the mount covers; the wipe's storage
// probe, which looks up the filesystem under a file; and the wipe's
// confinement, which must not cross into a mount that shows data living
// outside its root.
//
//   std::optional<MountInfoEntry> entry = ParseMountInfoLine(line);
//   if (entry) use(entry->mount_point);  // "\040" and friends already decoded
//
// Thread-safe: no state.
#ifndef OFFBOARD_AGENT_SCAN_MOUNT_INFO_H_
#define OFFBOARD_AGENT_SCAN_MOUNT_INFO_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::agent {

// What statx says of a file's place among the mounts, asked without
// following a symlink or triggering an automount.
struct MountStat {
  uint64_t mount_id = 0;  // 0 when the kernel cannot say (before 5.8)
  uint64_t inode = 0;
  bool mount_root = false;  // the root directory of a mount
};

// Of `name` in `dir_fd`, or of `dir_fd` itself with "" and AT_EMPTY_PATH in
// `flags`; an error naming `what` when statx fails.
absl::StatusOr<MountStat> StatMount(int dir_fd, const char* name, int flags,
                                    absl::string_view what);

// One line of /proc/self/mountinfo, with its octal escapes ("\040") decoded.
struct MountInfoEntry {
  uint64_t mount_id = 0;  // statx's stx_mnt_id names the same mount
  unsigned int major = 0;
  unsigned int minor = 0;
  std::string root;  // the path inside the filesystem that is mounted
  std::string mount_point;
  std::string mount_options;  // per-mount ("rw,relatime")
  std::string fs_type;
  std::string source;
  std::string super_options;  // the filesystem's ("rw,data=journal")
};

// Parses one mountinfo line; nullopt if it is malformed.
std::optional<MountInfoEntry> ParseMountInfoLine(absl::string_view line);

// Whether the root directory of `mount` is the root of a btrfs subvolume
// (inode 256), asked of its mount point and believed only when statx finds
// that very mount there. Kernels before 5.9 show a bind mount of a directory
// inside a subvolume with that directory as its subvol=, so the option alone
// does not tell.
bool MountRootIsSubvolumeRoot(const MountInfoEntry& mount);

// Why crossing into the mount `mount_id` below the directory `root` could
// reach data that lives outside `root`, or nullopt if it cannot. `mountinfo`
// is the whole text of /proc/self/mountinfo. The mount is refused when it is
// not in the table, when it mounts a part of its filesystem rather than the
// whole (a bind mount of a directory: its root is not "/"; a whole btrfs
// subvolume, `-o subvol=@data`, counts as whole when `is_subvolume_root`
// confirms it), or when the same filesystem
// is also mounted outside `root` in a way that shows some of the same files
// (a mount of the whole filesystem, the same subvolume, one nested in it, or
// one it is nested in) — wiping a file there would destroy it under its other
// name too, as with a hard link. Network,
// FUSE and overlay filesystems are refused (their data lives elsewhere), and
// so is any crossing when a mountinfo line cannot be read. Nothing is outside
// the root "/".
std::optional<std::string> MountLeadsOutside(
    absl::string_view mountinfo, uint64_t mount_id, absl::string_view root,
    const std::function<bool(const MountInfoEntry&)>& is_subvolume_root = MountRootIsSubvolumeRoot);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_MOUNT_INFO_H_
