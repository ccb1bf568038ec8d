#include "agent/scan/disk_image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace offboard::agent {
namespace {

using ::testing::HasSubstr;

// A head of `size` bytes of a fixed pattern that is no image, to write
// signatures into.
class HeadBuilder {
 public:
  explicit HeadBuilder(size_t size = kDiskImageHeadBytes) : bytes_(size, 0) {
    uint32_t x = 12345;
    for (uint8_t& b : bytes_) {
      x = x * 1664525u + 1013904223u;
      b = static_cast<uint8_t>(x >> 24);
    }
  }
  HeadBuilder& Text(size_t at, std::string_view text) {
    std::memcpy(bytes_.data() + at, text.data(), text.size());
    return *this;
  }
  HeadBuilder& Zero(size_t at, size_t n) {
    std::memset(bytes_.data() + at, 0, n);
    return *this;
  }
  HeadBuilder& Le32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_[at + i] = static_cast<uint8_t>(v >> (8 * i));
    return *this;
  }
  HeadBuilder& Be32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
    return *this;
  }
  HeadBuilder& Le16(size_t at, uint16_t v) {
    bytes_[at] = static_cast<uint8_t>(v);
    bytes_[at + 1] = static_cast<uint8_t>(v >> 8);
    return *this;
  }
  HeadBuilder& Be16(size_t at, uint16_t v) {
    bytes_[at] = static_cast<uint8_t>(v >> 8);
    bytes_[at + 1] = static_cast<uint8_t>(v);
    return *this;
  }
  HeadBuilder& Le64(size_t at, uint64_t v) {
    Le32(at, static_cast<uint32_t>(v));
    return Le32(at + 4, static_cast<uint32_t>(v >> 32));
  }
  // Of a stream whose size is not known, or is `size`.
  std::string Kind(std::optional<uint64_t> size = std::nullopt) const {
    return DiskImageKind(bytes_, size);
  }
  std::string KindOfFirst(size_t n) const {
    return DiskImageKind(std::span<const uint8_t>(bytes_).first(n), std::nullopt);
  }

 private:
  std::vector<uint8_t> bytes_;
};

// An ext4 superblock's checked fields: 4 KiB blocks, revision 1.
HeadBuilder Ext4() {
  HeadBuilder h;
  h.Le32(1024, 4096).Le32(1024 + 0x18, 2).Le32(1024 + 0x20, 32768).Le32(1024 + 0x4C, 1);
  h.Le16(1024 + 0x38, 0xEF53);
  return h;
}

// A protective MBR (one entry of type 0xEE from sector 1), a GPT header
// (revision 1.0, 92 bytes, usable from sector 34 to 2^30), its 128 entries of
// 128 bytes from sector 2, the first partition from sector 2048.
HeadBuilder Gpt(size_t sector = 512) {
  HeadBuilder h;
  h.Zero(446, 64).Text(510, "\x55\xAA").Text(446 + 4, "\xEE").Le32(446 + 8, 1);
  h.Le32(446 + 12, 0xFFFFFFFF);
  h.Text(sector, "EFI PART").Le32(sector + 8, 0x00010000).Le32(sector + 12, 92);
  h.Le64(sector + 40, 34).Le64(sector + 48, 1 << 30);
  h.Le64(sector + 72, 2).Le32(sector + 80, 128).Le32(sector + 84, 128);
  h.Zero(2 * sector, 128 * 128).Text(2 * sector, "type-guid-bytes!").Le64(2 * sector + 32, 2048);
  return h;
}

// A partition table with one Linux partition from sector 2048.
HeadBuilder Mbr() {
  HeadBuilder h;
  h.Zero(446, 64).Text(510, "\x55\xAA");
  h.Text(446, "\x80").Text(446 + 4, "\x83").Le32(446 + 8, 2048).Le32(446 + 12, 100000);
  return h;
}

TEST(DiskImageTest, NoiseAndShortHeadsAreNoImage) {
  EXPECT_EQ(HeadBuilder().Kind(), "");
  EXPECT_EQ(DiskImageKind({}, std::nullopt), "");
  // A signature past the end of the head is not read.
  EXPECT_EQ(Ext4().KindOfFirst(1080), "");
  EXPECT_EQ(HeadBuilder().Text(0x10040, "_BHRfS_M").KindOfFirst(0x10040 + 7), "");
  // Text files that begin with a signature's letters.
  const std::string text = "XFSB is the magic of XFS; hsqs of squashfs; KDMV of VMDK.\n";
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  EXPECT_EQ(DiskImageKind(bytes, std::nullopt), "");
}

TEST(DiskImageTest, FilesystemsAreNamed) {
  EXPECT_EQ(Ext4().Kind(), "ext2/3/4 filesystem");
  EXPECT_EQ(HeadBuilder().Text(0, "XFSB").Be32(4, 4096).Kind(), "XFS filesystem");
  EXPECT_EQ(HeadBuilder().Text(0x10040, "_BHRfS_M").Kind(), "btrfs filesystem");
  EXPECT_EQ(HeadBuilder().Le32(1024, 0xF2F52010).Le16(1028, 1).Kind(), "F2FS filesystem");
  EXPECT_EQ(HeadBuilder().Le32(1024, 0xE0F5E1E2).Text(1024 + 12, "\x0C").Kind(),
            "EROFS filesystem");
  EXPECT_EQ(HeadBuilder().Text(0, "sqsh").Be16(28, 3).Kind(), "squashfs filesystem");
  EXPECT_EQ(HeadBuilder().Le32(0, 0x28CD3D45).Text(16, "Compressed ROMFS").Kind(),
            "cramfs filesystem");
  EXPECT_EQ(HeadBuilder().Text(32768, "JFS1").Le32(32772, 2).Kind(), "JFS filesystem");
  EXPECT_EQ(HeadBuilder().Text(65536 + 52, "ReIsEr2Fs").Kind(), "ReiserFS filesystem");
  EXPECT_EQ(HeadBuilder().Text(3, std::string_view("ReFS\0\0\0\0", 8)).Text(16, "FSRS").Kind(),
            "ReFS filesystem");
  EXPECT_EQ(HeadBuilder().Text(0, "hsqs").Le16(28, 4).Kind(), "squashfs filesystem");
  EXPECT_EQ(HeadBuilder().Text(1024, "H+").Be16(1026, 4).Kind(), "HFS+ filesystem");
  EXPECT_EQ(HeadBuilder().Text(32, "NXSB").Le32(36, 4096).Kind(), "APFS container");
  EXPECT_EQ(HeadBuilder().Text(3, "NTFS    ").Text(510, "\x55\xAA").Kind(), "NTFS filesystem");
  EXPECT_EQ(HeadBuilder().Text(3, "EXFAT   ").Text(108, "\x09").Text(510, "\x55\xAA").Kind(),
            "exFAT filesystem");
  EXPECT_EQ(HeadBuilder().Text(0, "\xEB\x3C\x90").Text(54, "FAT16   ").Text(510, "\x55\xAA").Kind(),
            "FAT filesystem");
  EXPECT_EQ(HeadBuilder().Text(0, "\xEB\x58\x90").Text(82, "FAT32   ").Text(510, "\x55\xAA").Kind(),
            "FAT filesystem");
}

TEST(DiskImageTest, SignaturesWithoutTheirFieldsAreNoImage) {
  // ext: a block size over 64 KiB, an unknown revision, no inodes.
  EXPECT_EQ(Ext4().Le32(1024 + 0x18, 7).Kind(), "");
  EXPECT_EQ(Ext4().Le32(1024 + 0x4C, 2).Kind(), "");
  EXPECT_EQ(Ext4().Le32(1024, 0).Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "XFSB").Be32(4, 4097).Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "hsqs").Le16(28, 9).Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(3, "NTFS    ").Kind(), "");  // no boot signature
  EXPECT_EQ(HeadBuilder().Zero(0, 1).Text(54, "FAT16   ").Text(510, "\x55\xAA").Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "QFI\xFB").Be32(4, 9).Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "QEDX").Le32(4, 65536).Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "EVF\x09\x0D\x0A\xFF\x01").Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "LUKS\xBA\xBE").Be16(6, 3).Kind(), "");
  // Magic alone: a text starting with it, or a header without its fields.
  EXPECT_EQ(HeadBuilder().Text(0, "conectix is a word\n").Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "vhdxfile").Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(512, "EFI PART").Kind(), "");
  EXPECT_EQ(HeadBuilder().Le32(64, 0xBEDA107F).Le16(70, 2).Kind(), "");
  EXPECT_EQ(HeadBuilder().Le32(1024, 0xF2F52010).Le16(1028, 9).Kind(), "");
  // Names in a tar header, or words in a text, where a volume keeps its name.
  EXPECT_EQ(HeadBuilder().Text(0, "abc-FVE-FS-").Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, "WithoutFreeSpace: a report\n").Kind(), "");
  EXPECT_EQ(HeadBuilder().Text(0, std::string_view("xyzReFS\0\0\0\0", 11)).Kind(), "");
}

TEST(DiskImageTest, VirtualDisksAndVolumesAreNamed) {
  EXPECT_EQ(HeadBuilder().Text(0, "QFI\xFB").Be32(4, 3).Kind(), "qcow virtual disk");
  EXPECT_EQ(HeadBuilder().Text(0, "KDMV").Le32(4, 1).Kind(), "VMDK virtual disk");
  EXPECT_EQ(HeadBuilder().Text(0, std::string_view("QED\0", 4)).Le32(4, 65536).Kind(),
            "QED virtual disk");
  EXPECT_EQ(HeadBuilder().Le32(64, 0xBEDA107F).Le32(68, 0x00010001).Kind(),
            "VirtualBox VDI virtual disk");
  EXPECT_EQ(HeadBuilder().Text(0, "vhdxfile").Text(0x10000, "head").Kind(), "VHDX virtual disk");
  EXPECT_EQ(HeadBuilder().Text(0, "conectix").Be32(12, 0x00010000).Kind(), "VHD virtual disk");
  EXPECT_EQ(HeadBuilder().Text(0, "WithoutFreeSpace").Le32(16, 2).Kind(), "Parallels virtual disk");
  EXPECT_EQ(HeadBuilder().Text(0, std::string_view("EVF\x09\x0D\x0A\xFF\0", 8)).Kind(),
            "EnCase (EWF) forensic image");
  EXPECT_EQ(HeadBuilder().Le32(0, 0xED26FF3A).Le16(4, 1).Le16(8, 28).Le16(10, 12).Kind(),
            "Android sparse image");
  EXPECT_EQ(HeadBuilder().Text(0, "LUKS\xBA\xBE").Be16(6, 2).Kind(), "LUKS encrypted volume");
  EXPECT_EQ(HeadBuilder().Text(0, "\xEB\x58\x90-FVE-FS-").Text(510, "\x55\xAA").Kind(),
            "BitLocker encrypted volume");
  EXPECT_EQ(HeadBuilder().Text(512, "LABELONE").Text(536, "LVM2 001").Kind(),
            "LVM physical volume");
}

TEST(DiskImageTest, PartitionedDisksAreNamed) {
  EXPECT_EQ(Mbr().Kind(), "MBR-partitioned disk");
  // A GPT disk's protective MBR is named by its GPT header.
  EXPECT_EQ(Gpt().Text(510, "\x55\xAA").Kind(), "GPT-partitioned disk");
  EXPECT_EQ(Gpt().Le32(512 + 84, 100).Kind(), "");  // entries of an impossible size
  EXPECT_EQ(Gpt(4096).Kind(), "GPT-partitioned disk");
  EXPECT_EQ(Gpt().Kind(uint64_t{1} << 30), "GPT-partitioned disk");
}

TEST(DiskImageTest, BootSignatureAloneIsNoPartitionTable) {
  // Entries of noise, an all-zero table, a bad status, a used entry of no type.
  EXPECT_EQ(HeadBuilder().Text(510, "\x55\xAA").Kind(), "");
  EXPECT_EQ(Mbr().Zero(446, 64).Kind(), "");
  EXPECT_EQ(Mbr().Text(446, "\x81").Kind(), "");
  EXPECT_EQ(Mbr().Zero(446 + 4, 1).Kind(), "");
  EXPECT_EQ(Mbr().Le32(446 + 8, 0).Kind(), "");
  EXPECT_EQ(Mbr().Text(446 + 16, "\x01").Kind(), "");  // a second entry half written
}

// What holds only the headers of a disk or volume whose data would start
// past its end is no image: a boot sector or partition table and their
// backups, an LVM label's dump, LUKS header backups and detached headers.
// A small image holding data is one.
TEST(DiskImageTest, HeadersWithoutTheirDataAreNoImage) {
  EXPECT_EQ(Ext4().Kind(40000), "ext2/3/4 filesystem");  // small, but files
  EXPECT_EQ(Mbr().Kind(512), "");
  EXPECT_EQ(Mbr().Kind(2048 * 512), "");  // ends where the partition starts
  EXPECT_EQ(Mbr().Kind(2048 * 512 + 1), "MBR-partitioned disk");

  // GPT: entries at sector 2, the first partition from sector 2048.
  const HeadBuilder gpt = Gpt();
  EXPECT_EQ(gpt.Kind(34 * 512), "");  // dd count=34: the protective MBR says nothing
  // sgdisk's backup: MBR, header, backup header (where the entries would be,
  // its fields read as an entry starting at sector 1), then the entries.
  HeadBuilder backup = Gpt();
  backup.Text(1024, "EFI PART").Le32(1024 + 8, 0x00010000).Le64(1024 + 32, 1);
  EXPECT_EQ(backup.Kind(35 * 512), "");
  EXPECT_EQ(gpt.Kind(uint64_t{1} << 30), "GPT-partitioned disk");
  EXPECT_EQ(gpt.Kind(), "GPT-partitioned disk");
  EXPECT_EQ(HeadBuilder(gpt).Zero(1024, 16).Kind(uint64_t{1} << 30), "");  // no partition

  HeadBuilder luks1;
  luks1.Text(0, "LUKS\xBA\xBE").Be16(6, 1).Be32(104, 4096);  // payload at 2 MiB
  EXPECT_EQ(luks1.Kind(2 << 20), "");
  EXPECT_EQ(luks1.Kind((2 << 20) + 4096), "LUKS encrypted volume");
  EXPECT_EQ(HeadBuilder(luks1).Be32(104, 0).Kind(1 << 30), "");  // detached header
  HeadBuilder luks2;
  luks2.Text(0, "LUKS\xBA\xBE").Be16(6, 2).Zero(4096, 4096);
  EXPECT_EQ(luks2.Kind(16 << 20), "");  // no JSON: the default offset
  EXPECT_EQ(luks2.Kind(1 << 30), "LUKS encrypted volume");
  luks2.Text(4096, R"({"keyslots":{},"segments":{"0":{"type":"crypt","offset":"4194304"}}})");
  EXPECT_EQ(luks2.Kind(4 << 20), "");
  EXPECT_EQ(luks2.Kind(5 << 20), "LUKS encrypted volume");
  luks2.Text(4096, "{\"segments\": {\"0\": {\"offset\" :\n \"4194304\"}}}");
  EXPECT_EQ(luks2.Kind(4 << 20), "");
  EXPECT_EQ(luks2.Kind(5 << 20), "LUKS encrypted volume");

  // A FAT16 boot sector: 512-byte sectors, 4 reserved, 2 FATs of 32
  // sectors, 512 root entries: data from 68 * 512 + 16384.
  HeadBuilder fat;
  fat.Text(0, "\xEB\x3C\x90").Text(54, "FAT16   ").Text(510, "\x55\xAA");
  fat.Le16(11, 512).Le16(14, 4).Text(16, "\x02").Le16(17, 512).Le16(22, 32);
  EXPECT_EQ(fat.Kind(512), "");
  EXPECT_EQ(fat.Kind(68 * 512 + 16384 + 1), "FAT filesystem");
  // NTFS with clusters of 8 sectors: bootsect.bak is 8 KiB; files may sit in
  // any cluster, so the first piece of a split image is one, wherever its
  // MFT is. Clusters of 128 KiB are written as 0xF8 (2^8 sectors).
  HeadBuilder ntfs;
  ntfs.Text(3, "NTFS    ").Text(510, "\x55\xAA").Le16(11, 512).Text(13, "\x08");
  ntfs.Le64(48, 786432);
  EXPECT_EQ(ntfs.Kind(8192), "");
  EXPECT_EQ(ntfs.Kind(20 << 20), "NTFS filesystem");
  EXPECT_EQ(HeadBuilder(ntfs).Text(13, "\xF8").Kind(8192), "");
  EXPECT_EQ(HeadBuilder(ntfs).Text(13, "\xF8").Kind(16 << 20), "NTFS filesystem");
  // An LVM label whose PV header says the data starts at 1 MiB.
  HeadBuilder lvm;
  lvm.Text(512, "LABELONE").Le32(512 + 20, 32).Text(536, "LVM2 001").Le64(512 + 32 + 40, 1 << 20);
  EXPECT_EQ(lvm.Kind(1024), "");
  EXPECT_EQ(lvm.Kind(4 << 20), "LVM physical volume");
}

TEST(DiskImageTest, ErrorNamesTheKindAndWhy) {
  EXPECT_THAT(DiskImageError("ext2/3/4 filesystem"),
              HasSubstr("ext2/3/4 filesystem image: the files in it are not examined"));
  EXPECT_THAT(DiskImageError("LUKS encrypted volume"), HasSubstr("encrypted, no key"));
  EXPECT_THAT(DiskImageError("BitLocker encrypted volume"), HasSubstr("encrypted, no key"));
}

}  // namespace
}  // namespace offboard::agent
