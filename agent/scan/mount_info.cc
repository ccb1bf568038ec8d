#include "agent/scan/mount_info.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/errno_status.h"

namespace offboard::agent {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string DecodeOctalEscapes(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<MountInfoEntry> ParseMountInfoLine(absl::string_view line) {
  // id parent major:minor root mount-point options [optional...] - type source super
  // One space between fields, always: a filesystem mounted with an empty source
  // (`mount -t tmpfs "" /mnt`) shows as two spaces in a row, and skipping the
  // empty field would shift the super options into the source.
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
  if (fields.size() < 9) return std::nullopt;
  size_t dash = 6;
  while (dash < fields.size() && fields[dash] != "-") ++dash;
  if (dash + 2 >= fields.size()) return std::nullopt;
  MountInfoEntry entry;
  if (!absl::SimpleAtoi(fields[0], &entry.mount_id)) return std::nullopt;
  std::pair<absl::string_view, absl::string_view> numbers = absl::StrSplit(fields[2], ':');
  if (!absl::SimpleAtoi(numbers.first, &entry.major) ||
      !absl::SimpleAtoi(numbers.second, &entry.minor)) {
    return std::nullopt;
  }
  entry.root = DecodeOctalEscapes(fields[3]);
  entry.mount_point = DecodeOctalEscapes(fields[4]);
  entry.mount_options = std::string(fields[5]);
  entry.fs_type = DecodeOctalEscapes(fields[dash + 1]);
  entry.source = DecodeOctalEscapes(fields[dash + 2]);
  if (dash + 3 < fields.size()) entry.super_options = std::string(fields[dash + 3]);
  return entry;
}

namespace {

bool AtOrBelow(absl::string_view path, absl::string_view root) {
  if (root == "/") return true;
  return absl::StartsWith(path, root) && (path.size() == root.size() || path[root.size()] == '/');
}

// The subvolume a btrfs mount shows, from "subvol=/@data" among its super
// options, or empty. (btrfs names there the subvolume holding the mount's
// root: for a bind mount of a directory inside it, that differs from the
// mount's root.)
std::string BtrfsSubvolume(const MountInfoEntry& entry) {
  if (entry.fs_type != "btrfs") return "";
  for (absl::string_view option : absl::StrSplit(entry.super_options, ',')) {
    if (absl::ConsumePrefix(&option, "subvol=")) return DecodeOctalEscapes(option);
  }
  return "";
}

}  // namespace

absl::StatusOr<MountStat> StatMount(int dir_fd, const char* name, int flags,
                                    absl::string_view what) {
  struct statx stx {};
  if (::statx(dir_fd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_INO | STATX_MNT_ID,
              &stx) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("statx ", what));
  }
  MountStat stat;
  if ((stx.stx_mask & STATX_MNT_ID) != 0) stat.mount_id = stx.stx_mnt_id;
  if ((stx.stx_mask & STATX_INO) != 0) stat.inode = stx.stx_ino;
  stat.mount_root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
                    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  return stat;
}

bool MountRootIsSubvolumeRoot(const MountInfoEntry& mount) {
  constexpr uint64_t kBtrfsSubvolumeRootInode = 256;
  const absl::StatusOr<MountStat> stat =
      StatMount(AT_FDCWD, mount.mount_point.c_str(), 0, mount.mount_point);
  return stat.ok() && stat->mount_id != 0 && stat->mount_id == mount.mount_id &&
         stat->inode == kBtrfsSubvolumeRootInode;
}

std::optional<std::string> MountLeadsOutside(
    absl::string_view mountinfo, uint64_t mount_id, absl::string_view root,
    const std::function<bool(const MountInfoEntry&)>& is_subvolume_root) {
  if (root == "/") return std::nullopt;  // nothing lies outside "/"
  std::vector<MountInfoEntry> entries;
  std::optional<MountInfoEntry> crossed;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::optional<MountInfoEntry> entry = ParseMountInfoLine(line);
    // A line that cannot be read could be the other mount of the filesystem.
    if (!entry) return absl::StrCat("a line of /proc/self/mountinfo cannot be read: ", line);
    if (entry->mount_id == mount_id) crossed = *entry;
    entries.push_back(*std::move(entry));
  }
  if (!crossed) {
    return absl::StrCat("mount ", mount_id, " is not in /proc/self/mountinfo");
  }
  const std::string device = absl::StrCat(crossed->major, ":", crossed->minor);
  // These show data kept elsewhere whatever their mount root says: another
  // host, another directory (FUSE, overlay layers), the hypervisor's disk.
  // By prefix: nfs4, fuse.sshfs, fuseblk.
  for (absl::string_view remote :
       {"nfs", "cifs", "smb", "9p", "virtiofs", "overlay", "fuse", "ceph", "glusterfs", "afs"}) {
    if (absl::StartsWith(crossed->fs_type, remote)) {
      return absl::StrCat("the mount at ", crossed->mount_point, " is ", crossed->fs_type,
                          ", whose data lives elsewhere");
    }
  }
  // A whole btrfs subvolume is a tree of its own, like a whole filesystem:
  // what `mount -o subvol=@data` shows lives nowhere else, unless the same
  // subvolume is mounted again (checked below).
  const bool whole_subvolume = crossed->root != "/" && BtrfsSubvolume(*crossed) == crossed->root &&
                               is_subvolume_root(*crossed);
  if (crossed->root != "/" && !whole_subvolume) {
    return absl::StrCat("the mount at ", crossed->mount_point, " shows only ", crossed->root,
                        " of filesystem ", device, " (a bind mount)");
  }
  for (const MountInfoEntry& other : entries) {
    // Another mount of the filesystem outside the root shows the same files
    // under other names when one of the two mounted trees holds the other
    // (a mount of the whole filesystem holds everything); two sibling
    // subvolumes share no file.
    if (other.major == crossed->major && other.minor == crossed->minor &&
        !AtOrBelow(other.mount_point, root) &&
        (AtOrBelow(other.root, crossed->root) || AtOrBelow(crossed->root, other.root))) {
      return absl::StrCat("the filesystem ", device, " mounted at ", crossed->mount_point,
                          whole_subvolume ? absl::StrCat(" (subvolume ", crossed->root, ")") : "",
                          " is also mounted at ", other.mount_point,
                          other.root == "/" ? "" : absl::StrCat(" (", other.root, ")"),
                          ", outside ", root);
    }
  }
  return std::nullopt;
}

}  // namespace offboard::agent
