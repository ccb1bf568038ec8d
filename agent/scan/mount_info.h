// Lines of /proc/self/mountinfo (proc(5)), parsed once for the two parts that
// need them: the scanner's walk, which must stat every mount point because a
// directory entry's d_type describes what the mount covers, and the wipe's
// storage probe, which looks up the filesystem under a file.
//
//   std::optional<MountInfoEntry> entry = ParseMountInfoLine(line);
//   if (entry) use(entry->mount_point);  // "\040" and friends already decoded
//
// Thread-safe: no state.
#ifndef OFFBOARD_AGENT_SCAN_MOUNT_INFO_H_
#define OFFBOARD_AGENT_SCAN_MOUNT_INFO_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace offboard::agent {

// One line of /proc/self/mountinfo, with its octal escapes ("\040") decoded.
struct MountInfoEntry {
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

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_MOUNT_INFO_H_
