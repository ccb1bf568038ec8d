// Finds out what storage really sits under an open file, and the highest
// assurance an in-place, verified overwrite of that file can honestly claim.
//
// Overwriting a file in place destroys its old content only where the
// filesystem writes new data over the old blocks: not on copy-on-write or
// log-structured filesystems, not when the journal holds a second copy of the
// data, not for extents shared with a reflink or snapshot, not on network or
// FUSE filesystems, and only logically on flash (the FTL remaps). The wipe
// engine records the facts and the level in every item, and never claims more
// (ARCHITECTURE.md, "Truthful assurance").
//
//   absl::StatusOr<StorageFacts> facts = ProbeStorage(fd);
//   if (!facts.ok()) return facts.status();
//   common::Assurance ceiling = BestAchievableAssurance(*facts);
//
// Every fact the probe could not establish stays unknown (nullopt, empty or
// false-with-a-note); BestAchievableAssurance treats unknown as the worse case
// except for the rotational flag, where issue 4 asks for "rotational or
// unknown" to keep overwrite_verified.
//
// Thread-safe: the functions keep no state. ProbeStorage reads
// /proc/self/mountinfo, /proc/fs/ext4 and /sys/dev/block, and asks the kernel
// to flush the file's dirty pages (FIEMAP_FLAG_SYNC) so delayed allocations
// have a place on disk before they are mapped; it never writes file data.
#ifndef OFFBOARD_AGENT_WIPE_STORAGE_PROBE_H_
#define OFFBOARD_AGENT_WIPE_STORAGE_PROBE_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/scan/mount_info.h"
#include "common/reconcile/reconciliation.h"

namespace offboard::agent {

// What a wipe reaches is a common::Assurance (common/reconcile/
// reconciliation.h), strongest first; an agent reaches one of three:
//   kOverwriteVerified: a verified in-place overwrite on an in-place
//     filesystem on rotational (or unidentified) media: the old blocks were
//     overwritten;
//   kOverwriteFlash: the same on non-rotational media: the logical blocks
//     were overwritten, but the device's flash translation layer may keep
//     the old pages;
//   kLogicalOnly: only the name and the logical content are gone; copies
//     may remain.
// common::AssuranceName and common::ParseAgentAssurance give and read the
// strings of the report and the attestation.

struct StorageFacts {
  // The mount's filesystem type string ("ext4", "ext3", "xfs", "fuse.sshfs"),
  // or, when the mount was not found, the name of the statfs magic number
  // ("unknown" if that is not recognised either).
  std::string fs_type;
  // statfs f_type; the classification below relies on it, not on the string.
  std::uint64_t fs_magic = 0;
  // The mount source from mountinfo ("/dev/loop3", "server:/export"); empty if
  // the mount was not found.
  std::string device;
  // The mount point of the mount holding the file; empty if not found.
  std::string mount_point;
  // Of the whole disk (a partition's parent): /sys/.../queue/rotational and
  // queue/discard_max_bytes > 0. nullopt when there is no block device or sysfs
  // does not say.
  std::optional<bool> rotational;
  std::optional<bool> discard;
  // Per-mount options, a space, then the filesystem's own options, both from
  // mountinfo: "rw,relatime rw,data=journal".
  std::string mount_options;
  // True if file data goes through the journal (ext3/4 data=journal, or the
  // file's own journal-data attribute, chattr +j). nullopt on ext2/3/4 if the
  // mode could not be read; false on other filesystems.
  std::optional<bool> data_journal;
  // FIEMAP marked some extent of the file as shared (reflink, snapshot, dedup).
  bool shared_extents = false;
  // FIEMAP mapped the whole file and every extent has a known, unencoded,
  // block-aligned location of its own (no inline, tail-packed, encoded or
  // unknown extents). False if FIEMAP is not supported.
  bool extents_mapped = false;
  // On a loop device: its backing file, and the best assurance that file's
  // own storage allows (probed the same way; logical_only when it cannot
  // be), since an overwrite through the loop device is an overwrite of that
  // file. Empty and nullopt elsewhere.
  std::string backing_file;
  std::optional<common::Assurance> backing_limit;
  // Human-readable caveats: a loop device's backing file, facts not found.
  std::string note;
};

// Probes the storage under `fd`, which must be open on a regular file.
// INVALID_ARGUMENT if it is not a regular file; the errno status of fstat or
// fstatfs if those fail. Facts that cannot be read (no sysfs, FIEMAP not
// supported, mount not found) leave the fact unknown and say so in `note`:
// they are not errors.
absl::StatusOr<StorageFacts> ProbeStorage(int fd);

// The ceiling a verified in-place overwrite can reach on this storage:
// overwrite_verified only for ext2/3/4 without data journalling, or xfs, with
// no shared and only plainly mapped extents, on rotational or unknown media;
// overwrite_flash for the same on non-rotational media; logical_only for
// everything else. tmpfs and ramfs are logical_only: the overwrite reaches the
// page, but swap may hold an older copy that no one can find or overwrite. On
// a loop device, never more than its backing file's storage allows.
common::Assurance BestAchievableAssurance(const StorageFacts& facts);

// The name of a statfs magic number ("ext2/3/4", "btrfs", "nfs"), or nullptr.
const char* FilesystemMagicName(std::uint64_t magic);

// The entry for device major:minor in a whole mountinfo text. When the device
// is mounted more than once (bind mounts), the longest mount point that is a
// prefix of `file_path` wins, else the first entry. When no entry has the
// device (btrfs gives each subvolume its own anonymous device), the longest
// mount point that is a prefix of `file_path`, whatever its device; the caller
// tells the two apart by the entry's major:minor. nullopt if nothing matches.
std::optional<MountInfoEntry> FindMount(absl::string_view mountinfo, unsigned int major,
                                        unsigned int minor, absl::string_view file_path);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_STORAGE_PROBE_H_
