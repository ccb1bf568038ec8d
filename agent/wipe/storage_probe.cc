#include "agent/wipe/storage_probe.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/io/unique_fd.h"
#include "common/status/errno_status.h"

namespace offboard::agent {
namespace {

constexpr std::uint64_t kExtMagic = 0xEF53;
constexpr std::uint64_t kXfsMagic = 0x58465342;

struct MagicName {
  std::uint64_t magic;
  const char* name;
};

// From linux/magic.h, plus out-of-tree filesystems (zfs, gpfs, lustre) it lacks.
constexpr MagicName kMagicNames[] = {
    {kExtMagic, "ext2/3/4"},  {kXfsMagic, "xfs"},      {0x9123683E, "btrfs"},
    {0x2FC12FC1, "zfs"},      {0xF2F52010, "f2fs"},    {0x3434, "nilfs2"},
    {0xca451a4e, "bcachefs"}, {0x794c7630, "overlay"}, {0x01021994, "tmpfs"},
    {0x858458f6, "ramfs"},    {0x6969, "nfs"},         {0xFF534D42, "cifs"},
    {0xFE534D42, "smb2"},     {0x65735546, "fuse"},    {0x5346544e, "ntfs"},
    {0x4d44, "vfat"},         {0x2011BAB0, "exfat"},   {0x3153464a, "jfs"},
    {0x52654973, "reiserfs"}, {0x24051905, "ubifs"},   {0x6a656a63, "v9fs"},
    {0x00c36400, "ceph"},     {0x19830326, "gfs2"},    {0x73717368, "squashfs"},
    {0xE0F5E1E2, "erofs"},    {0x9fa0, "proc"},        {0x62656572, "sysfs"},
    {0x47504653, "gpfs"},     {0x0BD00BD0, "lustre"},  {0x517B, "smb"},
};

// Reads a small text file (sysfs, procfs) whole; nullopt if it cannot be read.
std::optional<std::string> ReadSmallFile(const boost::filesystem::path& path) {
  std::ifstream in(path.string(), std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

bool HasOption(absl::string_view options, absl::string_view wanted) {
  for (absl::string_view option : absl::StrSplit(options, absl::ByAnyChar(", \n"))) {
    if (option == wanted) return true;
  }
  return false;
}

void AddNote(StorageFacts& facts, absl::string_view text) {
  if (!facts.note.empty()) facts.note += "; ";
  facts.note.append(text.data(), text.size());
}

// The sysfs directory of the block device dev_t, or empty if there is none.
boost::filesystem::path SysBlockDir(dev_t device) {
  const boost::filesystem::path link =
      absl::StrCat("/sys/dev/block/", major(device), ":", minor(device));
  boost::system::error_code error;
  boost::filesystem::path dir = boost::filesystem::canonical(link, error);
  return error ? boost::filesystem::path() : dir;
}

// Rotational and discard of the disk holding `device`; a partition has no
// queue/ of its own, so its parent directory (the disk) answers.
void ProbeBlockDevice(dev_t device, StorageFacts& facts) {
  boost::filesystem::path dir = SysBlockDir(device);
  if (dir.empty()) {
    AddNote(facts, absl::StrCat("no block device in sysfs for ", major(device), ":", minor(device),
                                "; media type unknown"));
    return;
  }
  boost::system::error_code error;
  if (boost::filesystem::exists(dir / "partition", error)) dir = dir.parent_path();
  if (auto text = ReadSmallFile(dir / "queue" / "rotational")) {
    int value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) facts.rotational = value != 0;
  }
  if (auto text = ReadSmallFile(dir / "queue" / "discard_max_bytes")) {
    std::uint64_t value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) facts.discard = value != 0;
  }
  if (!facts.rotational.has_value()) {
    AddNote(facts, absl::StrCat(dir.filename().string(), " does not say if it is rotational"));
  }
  if (auto backing = ReadSmallFile(dir / "loop" / "backing_file")) {
    facts.backing_file = std::string(absl::StripAsciiWhitespace(*backing));
    AddNote(facts, absl::StrCat(dir.filename().string(), " is a loop device backed by ",
                                facts.backing_file,
                                ", a file on another filesystem that may keep its own copies"));
  }
}

// Reads the mode ext3/4 really runs in: /proc/fs/ext4/<dev>/options lists
// data= always, while mountinfo omits it when it is the superblock default
// (tune2fs -o journal_data).
std::optional<bool> Ext4DataJournal(const StorageFacts& facts, dev_t device, int fd) {
  std::optional<bool> journal;
  if (HasOption(facts.mount_options, "data=journal")) journal = true;
  const boost::filesystem::path dir = SysBlockDir(device);
  if (!dir.empty()) {
    const auto options =
        ReadSmallFile(boost::filesystem::path("/proc/fs/ext4") / dir.filename() / "options");
    if (options.has_value())
      journal = journal.value_or(false) || HasOption(*options, "data=journal");
  }
  // A file can ask for its own data to be journalled (chattr +j).
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
    if ((flags & FS_JOURNAL_DATA_FL) != 0) journal = true;
  }
  return journal;
}

// Walks the file's extents with FIEMAP, a batch at a time.
void ProbeExtents(int fd, StorageFacts& facts) {
  constexpr unsigned int kBatch = 128;
  constexpr std::uint32_t kOpaque = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
                                    FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_NOT_ALIGNED |
                                    FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL;
  std::vector<std::uint64_t> buffer(
      (sizeof(struct fiemap) + kBatch * sizeof(struct fiemap_extent)) / sizeof(std::uint64_t) + 1);
  auto* map = reinterpret_cast<struct fiemap*>(buffer.data());
  std::uint64_t start = 0;
  bool opaque = false;
  for (;;) {
    std::fill(buffer.begin(), buffer.end(), 0);
    map->fm_start = start;
    map->fm_length = FIEMAP_MAX_OFFSET - start;
    map->fm_flags = FIEMAP_FLAG_SYNC;
    map->fm_extent_count = kBatch;
    if (::ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
      AddNote(facts, absl::StrCat("FIEMAP failed (", std::strerror(errno),
                                  "): extent sharing and placement unknown"));
      return;
    }
    if (map->fm_mapped_extents == 0) break;
    bool last = false;
    for (unsigned int i = 0; i < map->fm_mapped_extents; ++i) {
      const struct fiemap_extent& extent = map->fm_extents[i];
      if ((extent.fe_flags & FIEMAP_EXTENT_SHARED) != 0) facts.shared_extents = true;
      if ((extent.fe_flags & kOpaque) != 0) opaque = true;
      if ((extent.fe_flags & FIEMAP_EXTENT_LAST) != 0) last = true;
      start = extent.fe_logical + extent.fe_length;
    }
    if (last || map->fm_mapped_extents < kBatch) break;
  }
  if (opaque) {
    AddNote(facts, "some extents are inline, packed, encoded or of unknown location");
  }
  facts.extents_mapped = !opaque;
}

// Whether a mountinfo type string names the filesystem of statfs `magic`.
bool SameFilesystemKind(std::uint64_t magic, absl::string_view fs_type) {
  if (magic == kExtMagic) return fs_type == "ext2" || fs_type == "ext3" || fs_type == "ext4";
  if (magic == 0x65735546) return absl::StartsWith(fs_type, "fuse");
  const char* name = FilesystemMagicName(magic);
  return name != nullptr && fs_type == name;
}

}  // namespace

const char* FilesystemMagicName(std::uint64_t magic) {
  for (const MagicName& entry : kMagicNames) {
    if (entry.magic == magic) return entry.name;
  }
  return nullptr;
}

namespace {

// Whether `point` is `path` or one of its ancestors.
bool MountPointCovers(absl::string_view point, absl::string_view path) {
  return point == "/" || path == point ||
         (absl::StartsWith(path, point) && path.size() > point.size() && path[point.size()] == '/');
}

}  // namespace

std::optional<MountInfoEntry> FindMount(absl::string_view mountinfo, unsigned int major_number,
                                        unsigned int minor_number, absl::string_view file_path) {
  std::optional<MountInfoEntry> first;    // first entry with the device
  std::optional<MountInfoEntry> best;     // longest covering entry with the device
  std::optional<MountInfoEntry> by_path;  // longest covering entry, any device
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::optional<MountInfoEntry> entry = ParseMountInfoLine(line);
    if (!entry.has_value()) continue;
    const bool covers = MountPointCovers(entry->mount_point, file_path);
    // ">=": a later mount over the same point hides the earlier one.
    if (covers &&
        (!by_path.has_value() || entry->mount_point.size() >= by_path->mount_point.size())) {
      by_path = entry;
    }
    if (entry->major != major_number || entry->minor != minor_number) continue;
    if (covers && (!best.has_value() || entry->mount_point.size() >= best->mount_point.size())) {
      best = entry;
    }
    if (!first.has_value()) first = std::move(entry);
  }
  if (best.has_value()) return best;
  if (first.has_value()) return first;
  return by_path;
}

namespace {

// A loop device over a loop device over ... a file: followed this far.
constexpr int kMaxLoopDepth = 4;

absl::StatusOr<StorageFacts> ProbeStorageAt(int fd, int depth);

// What the storage of a loop device's backing file allows; logical_only when
// it cannot be known (the file is gone, out of this mount namespace, or the
// chain is too deep), since nothing then shows the overwrite reached a disk.
common::Assurance BackingFileLimit(StorageFacts& facts, int depth) {
  const auto unknown = [&](absl::string_view why) {
    AddNote(facts,
            absl::StrCat("the backing file cannot be examined (", why, "): logical_only at best"));
    return common::Assurance::kLogicalOnly;
  };
  if (depth >= kMaxLoopDepth) return unknown("loop devices nested too deep");
  // O_PATH opens no driver; the type is checked on what was opened, and only
  // that inode is then opened for reading: a device node swapped in for the
  // path is never opened.
  common::UniqueFd path(::open(facts.backing_file.c_str(), O_PATH | O_CLOEXEC));
  if (!path) return unknown(std::strerror(errno));
  struct stat info {};
  if (::fstat(path.get(), &info) != 0) return unknown(std::strerror(errno));
  if (!S_ISREG(info.st_mode)) return unknown("not a regular file");
  common::UniqueFd backing(::open(absl::StrCat("/proc/self/fd/", path.get()).c_str(),
                                  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!backing) return unknown(std::strerror(errno));
  absl::StatusOr<StorageFacts> backing_facts = ProbeStorageAt(backing.get(), depth + 1);
  if (!backing_facts.ok()) return unknown(backing_facts.status().message());
  const common::Assurance limit = BestAchievableAssurance(*backing_facts);
  AddNote(facts, absl::StrCat("its backing file is on ", backing_facts->fs_type, ", which allows ",
                              common::AssuranceName(limit)));
  return limit;
}

}  // namespace

absl::StatusOr<StorageFacts> ProbeStorage(int fd) { return ProbeStorageAt(fd, 0); }

namespace {

absl::StatusOr<StorageFacts> ProbeStorageAt(int fd, int depth) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return common::ErrnoToStatus(errno, "fstat of probed file");
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError("storage probe: descriptor is not a regular file");
  }
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return common::ErrnoToStatus(errno, "fstatfs of probed file");

  StorageFacts facts;
  facts.fs_magic = static_cast<std::uint64_t>(static_cast<std::uint32_t>(fs.f_type));
  const char* magic_name = FilesystemMagicName(facts.fs_magic);
  facts.fs_type = magic_name != nullptr ? magic_name : "unknown";

  boost::system::error_code error;
  const std::string file_path =
      boost::filesystem::read_symlink(absl::StrCat("/proc/self/fd/", fd), error).string();
  std::optional<MountInfoEntry> mount;
  if (auto mountinfo = ReadSmallFile("/proc/self/mountinfo")) {
    mount = FindMount(*mountinfo, major(info.st_dev), minor(info.st_dev), file_path);
  }
  if (mount.has_value() && makedev(mount->major, mount->minor) != info.st_dev) {
    // btrfs gives each subvolume its own anonymous device, so the mount is
    // found by path instead; trust it only if it is the same kind of filesystem.
    if (!SameFilesystemKind(facts.fs_magic, mount->fs_type)) {
      mount.reset();
    } else {
      AddNote(facts, absl::StrCat("device ", major(info.st_dev), ":", minor(info.st_dev),
                                  " is not in mountinfo; mount found by path"));
    }
  }
  dev_t block_device = info.st_dev;
  if (mount.has_value()) {
    facts.fs_type = mount->fs_type;
    facts.device = mount->source;
    facts.mount_point = mount->mount_point;
    facts.mount_options = absl::StrCat(mount->mount_options, " ", mount->super_options);
    // btrfs and others report an anonymous st_dev; the source names the disk.
    struct stat source {};
    if (SysBlockDir(block_device).empty() && ::stat(mount->source.c_str(), &source) == 0 &&
        S_ISBLK(source.st_mode)) {
      block_device = source.st_rdev;
    }
  } else {
    AddNote(facts, absl::StrCat("no mount for device ", major(info.st_dev), ":", minor(info.st_dev),
                                " in /proc/self/mountinfo"));
  }
  if (major(block_device) != 0) {
    ProbeBlockDevice(block_device, facts);
  } else {
    AddNote(facts, "not on a block device");
  }
  if (facts.fs_magic == kExtMagic) {
    facts.data_journal = Ext4DataJournal(facts, block_device, fd);
    if (!facts.data_journal.has_value()) AddNote(facts, "ext data journalling mode unknown");
  } else {
    facts.data_journal = false;
  }
  ProbeExtents(fd, facts);
  if (!facts.backing_file.empty()) facts.backing_limit = BackingFileLimit(facts, depth);
  return facts;
}

}  // namespace

common::Assurance BestAchievableAssurance(const StorageFacts& facts) {
  const bool in_place_fs =
      (facts.fs_magic == kExtMagic && facts.data_journal == false) || facts.fs_magic == kXfsMagic;
  if (!in_place_fs || facts.shared_extents || !facts.extents_mapped) {
    return common::Assurance::kLogicalOnly;
  }
  const common::Assurance here = facts.rotational == false ? common::Assurance::kOverwriteFlash
                                                           : common::Assurance::kOverwriteVerified;
  // The enumerators run from the strongest to the weakest.
  return facts.backing_limit.has_value() ? std::max(here, *facts.backing_limit) : here;
}

}  // namespace offboard::agent
