#ifndef OFFBOARD_AGENT_SCAN_DISK_IMAGE_H_
#define OFFBOARD_AGENT_SCAN_DISK_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace offboard::agent {

// Disk and filesystem images hold files, as archives do, but in formats that
// libarchive cannot read (iso9660 aside): a copy of a dataset inside an ext4
// image or a VM's disk is not found by hashing the image. Such a stream is
// still hashed and matched as it is, and is also an error, so that the scan
// never reads as if the files inside had been examined.

// Bytes of a stream's head that DiskImageKind looks at, at most: btrfs keeps
// its superblock's magic at 64 KiB + 64.
inline constexpr size_t kDiskImageHeadBytes = 0x10040 + 8;

// What `head`, the first bytes of a stream, is an image of ("ext2/3/4
// filesystem", "qcow virtual disk", ...), or "" when it starts like none.
// Each signature is checked with fields around it that its writers always
// set, so that other content starting with the same few bytes is not taken
// for an image; a head shorter than a signature's place does not match it.
// `size`, the stream's size when known, rules out what holds only the
// headers of a disk or volume whose data would start past its end: a boot
// sector or partition table and their backups, an LVM label's dump, a LUKS
// header backup or detached header. Some images cannot be told by their head:
// ZFS pools, Apple disk images (their header is at the end), UFS2, and
// encrypted containers without a header (VeraCrypt).
std::string DiskImageKind(std::span<const uint8_t> head, std::optional<uint64_t> size);

// The reason given for a stream DiskImageKind named `kind`.
std::string DiskImageError(const std::string& kind);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_DISK_IMAGE_H_
