#include "agent/scan/disk_image.h"

#include <bit>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace offboard::agent {
namespace {

// Fields of a head; a field past its end reads as absent (false, or 0).
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

bool PowerOfTwoIn(uint32_t value, uint32_t low, uint32_t high) {
  return std::has_single_bit(value) && value >= low && value <= high;
}

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
// with some sectors; at least one in use.
bool Mbr(const Head& h) {
  if (!BootSignature(h)) return false;
  bool used = false;
  for (size_t entry = 446; entry < 510; entry += 16) {
    if (h.Zero(entry, 16)) continue;
    const uint8_t status = h.U8(entry);
    if ((status != 0 && status != 0x80) || h.U8(entry + 4) == 0 || h.Le32(entry + 8) == 0 ||
        h.Le32(entry + 12) == 0) {
      return false;
    }
    used = true;
  }
  return used;
}

bool Fat(const Head& h) {
  return BootSignature(h) && (h.U8(0) == 0xEB || h.U8(0) == 0xE9) &&
         (h.Text(54, "FAT12   ") || h.Text(54, "FAT16   ") || h.Text(54, "FAT     ") ||
          h.Text(82, "FAT32   "));
}

// An LVM2 label, in one of the first four sectors.
bool Lvm(const Head& h) {
  for (size_t sector = 0; sector < 4 * 512; sector += 512) {
    if (h.Text(sector, "LABELONE") && h.Text(sector + 24, "LVM2 001")) return true;
  }
  return false;
}

}  // namespace

std::string DiskImageKind(std::span<const uint8_t> bytes) {
  const Head h(bytes);
  // Container formats of virtual machines' disks first, by their headers.
  if (h.Text(0, "QFI\xFB") && h.Be32(4) >= 1 && h.Be32(4) <= 3) return "qcow virtual disk";
  if (h.Text(0, "KDMV") && h.Le32(4) >= 1 && h.Le32(4) <= 3) return "VMDK virtual disk";
  if (h.Le32(64) == 0xBEDA107F) return "VirtualBox VDI virtual disk";
  if (h.Text(0, "vhdxfile")) return "VHDX virtual disk";
  if (h.Text(0, "conectix")) return "VHD virtual disk";
  if (h.Text(0, "LUKS\xBA\xBE") && (h.Be16(6) == 1 || h.Be16(6) == 2)) {
    return "LUKS encrypted volume";
  }
  if (Lvm(h)) return "LVM physical volume";
  // Whole disks: a GPT header in the second sector (of 512 bytes or 4 KiB).
  if (h.Text(512, "EFI PART") || h.Text(4096, "EFI PART")) return "GPT-partitioned disk";
  // Filesystems.
  if (Ext(h)) return "ext2/3/4 filesystem";
  if (h.Text(0, "XFSB") && PowerOfTwoIn(h.Be32(4), 512, 65536)) return "XFS filesystem";
  if (h.Text(0x10040, "_BHRfS_M")) return "btrfs filesystem";
  if (h.Le32(1024) == 0xF2F52010) return "F2FS filesystem";
  if (h.Text(0, "hsqs") && h.Le16(28) == 4) return "squashfs filesystem";
  if ((h.Text(1024, "H+") && h.Be16(1026) == 4) || (h.Text(1024, "HX") && h.Be16(1026) == 5)) {
    return "HFS+ filesystem";
  }
  if (h.Text(32, "NXSB") && PowerOfTwoIn(h.Le32(36), 4096, 65536)) return "APFS container";
  if (h.Text(3, "NTFS    ") && BootSignature(h)) return "NTFS filesystem";
  if (h.Text(3, "EXFAT   ") && BootSignature(h)) return "exFAT filesystem";
  if (Fat(h)) return "FAT filesystem";
  // Last: a boot sector that is none of the filesystems above.
  if (Mbr(h)) return "MBR-partitioned disk";
  return "";
}

std::string DiskImageError(const std::string& kind) {
  if (kind == "LUKS encrypted volume") {
    return "LUKS encrypted volume: the files in it are not examined (encrypted, no key)";
  }
  return absl::StrCat(kind,
                      " image: the files in it are not examined (the scan does not read disk or "
                      "filesystem images; scan it mounted read-only)");
}

}  // namespace offboard::agent
