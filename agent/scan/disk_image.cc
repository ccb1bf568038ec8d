#include "agent/scan/disk_image.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace offboard::agent {
namespace {

constexpr uint64_t kSector = 512;
// The data offset cryptsetup gives a LUKS2 volume by default, taken when the
// header's own cannot be read.
constexpr uint64_t kLuks2HeaderBytes = 16 << 20;

// Fields of a head; a field past its end reads as absent (false, or 0). A
// text with a NUL in it is given as a string_view of its whole length.
class Head {
 public:
  explicit Head(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool Has(size_t at, size_t n) const { return at <= bytes_.size() && n <= bytes_.size() - at; }
  bool Text(size_t at, std::string_view text) const {
    return Has(at, text.size()) && std::memcmp(bytes_.data() + at, text.data(), text.size()) == 0;
  }
  uint8_t U8(size_t at) const { return Has(at, 1) ? bytes_[at] : 0; }
  uint32_t Le16(size_t at) const { return Has(at, 2) ? bytes_[at] | bytes_[at + 1] << 8 : 0; }
  uint32_t Be16(size_t at) const { return Has(at, 2) ? bytes_[at] << 8 | bytes_[at + 1] : 0; }
  uint32_t Le32(size_t at) const { return Le16(at) | Le16(at + 2) << 16; }
  uint32_t Be32(size_t at) const { return Be16(at) << 16 | Be16(at + 2); }
  uint64_t Le64(size_t at) const { return Le32(at) | uint64_t{Le32(at + 4)} << 32; }
  bool Zero(size_t at, size_t n) const {
    if (!Has(at, n)) return false;
    for (size_t i = at; i < at + n; ++i) {
      if (bytes_[i] != 0) return false;
    }
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
};

bool PowerOfTwoIn(uint64_t value, uint64_t low, uint64_t high) {
  return std::has_single_bit(value) && value >= low && value <= high;
}

// Whether a stream of `size` (when known) reaches past `offset`, where an
// image's data starts.
bool Reaches(std::optional<uint64_t> size, uint64_t offset) { return !size || *size > offset; }

// The 0x55 0xAA that ends a boot sector (MBR, FAT, NTFS, exFAT).
bool BootSignature(const Head& h) { return h.Text(510, "\x55\xAA"); }

// An ext2/3/4 superblock at 1024: magic 0xEF53, blocks of 1-64 KiB,
// revision 0 or 1, some inodes, some blocks per group.
bool Ext(const Head& h) {
  constexpr size_t sb = 1024;
  return h.Le16(sb + 0x38) == 0xEF53 && h.Has(sb, 0x50) && h.Le32(sb + 0x18) <= 6 &&
         h.Le32(sb + 0x4C) <= 1 && h.Le32(sb) != 0 && h.Le32(sb + 0x20) != 0;
}

// A classic partition table: four entries, each either all zero or active
// (0x80) or not (0), of a type, starting after the table's own sector and
// with some sectors; at least one in use, and one starting inside the stream.
// GPT's protective entry (type 0xEE) leaves that to the GPT header.
bool Mbr(const Head& h, std::optional<uint64_t> size) {
  if (!BootSignature(h)) return false;
  bool used = false, reached = false;
  for (size_t entry = 446; entry < 510; entry += 16) {
    if (h.Zero(entry, 16)) continue;
    const uint8_t status = h.U8(entry);
    const uint32_t start = h.Le32(entry + 8);
    if ((status != 0 && status != 0x80) || h.U8(entry + 4) == 0 || start == 0 ||
        h.Le32(entry + 12) == 0) {
      return false;
    }
    used = true;
    reached = reached || (h.U8(entry + 4) != 0xEE && Reaches(size, start * kSector));
  }
  return used && reached;
}

// The sector size of a GPT header in the second sector (of 512 bytes or
// 4 KiB): revision 1.0, a header of 92 bytes or more; 0 when there is none.
uint64_t GptSector(const Head& h) {
  for (const uint64_t sector : {kSector, uint64_t{4096}}) {
    if (h.Text(sector, "EFI PART") && h.Le32(sector + 8) == 0x00010000 &&
        h.Le32(sector + 12) >= 92 && h.Le32(sector + 12) <= sector) {
      return sector;
    }
  }
  return 0;
}

// A GPT disk with a partition starting inside the stream (a table's backup,
// or a disk with no partition, holds no files). Entries start within the
// usable sectors the header names: sgdisk's backup puts a header where the
// entries would be. When the entries lie past the head, the first usable
// sector stands for them.
bool GptReaches(const Head& h, uint64_t sector, std::optional<uint64_t> size) {
  const uint64_t first_usable = h.Le64(sector + 40), last_usable = h.Le64(sector + 48);
  const uint64_t entries = h.Le64(sector + 72) * sector;
  const uint32_t count = h.Le32(sector + 80), entry_size = h.Le32(sector + 84);
  if (entry_size < 128 || entry_size % 8 != 0 || count == 0) return false;
  if (!h.Has(entries, entry_size)) return Reaches(size, first_usable * sector);
  for (uint64_t i = 0, at = entries; i < count && h.Has(at, entry_size); ++i, at += entry_size) {
    const uint64_t start = h.Le64(at + 32);
    if (!h.Zero(at, 16) && start >= first_usable && start <= last_usable &&
        Reaches(size, start * sector)) {
      return true;
    }
  }
  return false;
}

// The offset of a LUKS2 volume's first data segment, from the JSON area
// after its binary header ("segments":{"0":{..."offset":"16777216"...);
// nullopt when it cannot be read from the head.
std::optional<uint64_t> Luks2DataOffset(std::span<const uint8_t> bytes) {
  constexpr size_t kJsonAt = 4096;
  if (bytes.size() <= kJsonAt) return std::nullopt;
  const std::string_view json(reinterpret_cast<const char*>(bytes.data()) + kJsonAt,
                              bytes.size() - kJsonAt);
  const size_t segments = json.find("\"segments\"");
  if (segments == std::string_view::npos) return std::nullopt;
  constexpr std::string_view kOffset = "\"offset\"";
  size_t at = json.find(kOffset, segments);
  if (at == std::string_view::npos) return std::nullopt;
  // JSON may put white space around the colon.
  const auto skip_space = [&] {
    while (at < json.size() &&
           (json[at] == ' ' || json[at] == '\t' || json[at] == '\n' || json[at] == '\r')) {
      ++at;
    }
  };
  at += kOffset.size();
  skip_space();
  if (at >= json.size() || json[at++] != ':') return std::nullopt;
  skip_space();
  if (at >= json.size() || json[at++] != '"') return std::nullopt;
  uint64_t offset = 0;
  size_t digits = 0;
  for (; at < json.size() && json[at] >= '0' && json[at] <= '9'; ++at) {
    if (++digits > 18) return std::nullopt;
    offset = offset * 10 + static_cast<uint64_t>(json[at] - '0');
  }
  if (digits == 0) return std::nullopt;
  return offset;
}

// LUKS 1 or 2 with its data after the header, inside the stream: a header
// backup, or a detached header (data offset 0, the data on another device),
// holds none. When the LUKS2 offset cannot be read, the default stands.
bool Luks(const Head& h, std::span<const uint8_t> bytes, std::optional<uint64_t> size) {
  if (!h.Text(0, "LUKS\xBA\xBE")) return false;
  std::optional<uint64_t> data;
  if (h.Be16(6) == 1) {
    data = uint64_t{h.Be32(104)} * kSector;
  } else if (h.Be16(6) == 2) {
    data = Luks2DataOffset(bytes).value_or(kLuks2HeaderBytes);
  } else {
    return false;
  }
  return *data != 0 && Reaches(size, *data);
}

// A FAT boot sector whose data region starts inside the stream (a boot
// sector alone is no image): after the reserved sectors, the FATs and the
// FAT12/16 root directory.
bool Fat(const Head& h, std::optional<uint64_t> size) {
  if (!BootSignature(h) || (h.U8(0) != 0xEB && h.U8(0) != 0xE9) ||
      !(h.Text(54, "FAT12   ") || h.Text(54, "FAT16   ") || h.Text(54, "FAT     ") ||
        h.Text(82, "FAT32   "))) {
    return false;
  }
  const uint64_t sector = h.Le16(11);
  const uint64_t fat_sectors = h.Le16(22) != 0 ? h.Le16(22) : h.Le32(36);
  const uint64_t data = (h.Le16(14) + h.U8(16) * fat_sectors) * sector + h.Le16(17) * 32;
  return Reaches(size, data);
}

// An NTFS boot sector with more than its boot area after it: files may sit
// in any cluster, so 16 clusters (and more than the 8 KiB boot area, which
// bootsect.bak copies) make an image, or the first piece of a split one.
bool Ntfs(const Head& h, std::optional<uint64_t> size) {
  if (!h.Text(3, "NTFS    ") || !BootSignature(h)) return false;
  const uint64_t sector = h.Le16(11);
  const uint8_t per_cluster = h.U8(13);  // above 0x80: 2^(256 - it) sectors
  const uint64_t cluster =
      sector * (per_cluster <= 0x80 ? per_cluster : uint64_t{1} << std::min(256 - per_cluster, 31));
  return Reaches(size, std::max<uint64_t>(16 * cluster, 8192));
}

// exFAT, with its cluster heap starting inside the stream.
bool ExFat(const Head& h, std::optional<uint64_t> size) {
  return h.Text(3, "EXFAT   ") && BootSignature(h) && h.U8(108) <= 12 &&
         Reaches(size, uint64_t{h.Le32(88)} << h.U8(108));
}

// An LVM2 label, in one of the first four sectors, whose first data area
// starts inside the stream (a label's dump holds no data).
bool Lvm(const Head& h, std::optional<uint64_t> size) {
  for (size_t sector = 0; sector < 4 * kSector; sector += kSector) {
    if (h.Text(sector, "LABELONE") && h.Text(sector + 24, "LVM2 001")) {
      // The PV header: a UUID, the device size, then the data areas.
      const size_t pv_header = sector + h.Le32(sector + 20);
      return Reaches(size, h.Le64(pv_header + 40));
    }
  }
  return false;
}

// squashfs, little-endian ("hsqs") or big-endian ("sqsh"), versions 1-4.
bool Squashfs(const Head& h) {
  return (h.Text(0, "hsqs") && h.Le16(28) >= 1 && h.Le16(28) <= 4) ||
         (h.Text(0, "sqsh") && h.Be16(28) >= 1 && h.Be16(28) <= 4);
}

// Virtual and forensic disk containers, encrypted volumes, volume managers.
std::string_view ContainerKind(const Head& h, std::span<const uint8_t> bytes,
                               std::optional<uint64_t> size) {
  if (h.Text(0, "QFI\xFB") && h.Be32(4) >= 1 && h.Be32(4) <= 3) return "qcow virtual disk";
  if (h.Text(0, std::string_view("QED\0", 4)) && PowerOfTwoIn(h.Le32(4), 4096, 64 << 20)) {
    return "QED virtual disk";
  }
  if (h.Text(0, "KDMV") && h.Le32(4) >= 1 && h.Le32(4) <= 3) return "VMDK virtual disk";
  if (h.Le32(64) == 0xBEDA107F && h.Le16(70) == 1) return "VirtualBox VDI virtual disk";
  if (h.Text(0, "vhdxfile") && h.Text(0x10000, "head")) return "VHDX virtual disk";
  if (h.Text(0, "conectix") && h.Be32(12) == 0x00010000) return "VHD virtual disk";
  if ((h.Text(0, "WithoutFreeSpace") || h.Text(0, "WithouFreSpacExt")) && h.Le32(16) == 2) {
    return "Parallels virtual disk";
  }
  if (h.Text(0, std::string_view("EVF\x09\x0D\x0A\xFF\0", 8)) ||
      h.Text(0, std::string_view("EVF2\x0D\x0A\x81\0", 8))) {
    return "EnCase (EWF) forensic image";
  }
  // Android sparse: version 1, headers of 28 and 12 bytes.
  if (h.Le32(0) == 0xED26FF3A && h.Le16(4) == 1 && h.Le16(8) == 28 && h.Le16(10) == 12) {
    return "Android sparse image";
  }
  if (Luks(h, bytes, size)) return "LUKS encrypted volume";
  if (h.Text(3, "-FVE-FS-") && h.U8(0) == 0xEB && BootSignature(h)) {
    return "BitLocker encrypted volume";
  }
  if (Lvm(h, size)) return "LVM physical volume";
  return "";
}

std::string_view FilesystemKind(const Head& h, std::optional<uint64_t> size) {
  if (Ext(h)) return "ext2/3/4 filesystem";
  if (h.Text(0, "XFSB") && PowerOfTwoIn(h.Be32(4), 512, 65536)) return "XFS filesystem";
  if (h.Text(0x10040, "_BHRfS_M")) return "btrfs filesystem";
  if (h.Le32(1024) == 0xF2F52010 && h.Le16(1028) == 1) return "F2FS filesystem";
  if (h.Le32(1024) == 0xE0F5E1E2 && h.U8(1024 + 12) >= 9 && h.U8(1024 + 12) <= 16) {
    return "EROFS filesystem";  // with blocks of 512 bytes to 64 KiB
  }
  if (Squashfs(h)) return "squashfs filesystem";
  if (h.Le32(0) == 0x28CD3D45 && h.Text(16, "Compressed ROMFS")) return "cramfs filesystem";
  if ((h.Text(1024, "H+") && h.Be16(1026) == 4) || (h.Text(1024, "HX") && h.Be16(1026) == 5)) {
    return "HFS+ filesystem";
  }
  if (h.Text(32, "NXSB") && PowerOfTwoIn(h.Le32(36), 4096, 65536)) return "APFS container";
  if (h.Text(32768, "JFS1") && (h.Le32(32772) == 1 || h.Le32(32772) == 2)) return "JFS filesystem";
  if (h.Text(65536 + 52, "ReIsEr2Fs") || h.Text(65536 + 52, "ReIsEr3Fs") ||
      h.Text(65536 + 52, "ReIsErFs")) {
    return "ReiserFS filesystem";
  }
  if (h.Text(3, std::string_view("ReFS\0\0\0\0", 8)) && h.Text(16, "FSRS")) {
    return "ReFS filesystem";
  }
  if (Ntfs(h, size)) return "NTFS filesystem";
  if (ExFat(h, size)) return "exFAT filesystem";
  if (Fat(h, size)) return "FAT filesystem";
  return "";
}

}  // namespace

std::string DiskImageKind(std::span<const uint8_t> bytes, std::optional<uint64_t> size) {
  const Head h(bytes);
  if (const std::string_view kind = ContainerKind(h, bytes, size); !kind.empty()) {
    return std::string(kind);
  }
  // Whole disks before what their first sector may also look like; a GPT
  // header leaves no say to the protective MBR before it.
  if (const uint64_t sector = GptSector(h); sector != 0) {
    return GptReaches(h, sector, size) ? "GPT-partitioned disk" : "";
  }
  if (const std::string_view kind = FilesystemKind(h, size); !kind.empty()) {
    return std::string(kind);
  }
  // Last: a boot sector that is none of the filesystems above.
  if (Mbr(h, size)) return "MBR-partitioned disk";
  return "";
}

std::string DiskImageError(const std::string& kind) {
  if (kind.ends_with("encrypted volume")) {
    return absl::StrCat(kind, ": the files in it are not examined (encrypted, no key)");
  }
  return absl::StrCat(kind,
                      " image: the files in it are not examined (the scan does not read disk or "
                      "filesystem images; scan it mounted read-only)");
}

}  // namespace offboard::agent
