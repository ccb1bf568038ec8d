// Tests of the storage probe: the classification on synthetic facts, the
// mountinfo parser, and, as root, real loop-mounted ext4 and btrfs images that
// the test makes inside its own temporary directory. Every loop device and
// mount is held by a guard that undoes it on every path, failures included.
#include "agent/wipe/storage_probe.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/scan/mount_info.h"
#include "agent/wipe/wipe_outcome.h"
#include "common/io/read_file.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// ---------------------------------------------------------------- helpers

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// Runs a shell command, output discarded; true if it exited 0.
bool RunShell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

bool HaveTool(const std::string& tool) { return RunShell("command -v " + tool); }

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Writes `size` bytes of a non-repeating pattern, fsyncs, and returns the file
// open read-write.
std::unique_ptr<UniqueFd> WriteDataFile(const boost::filesystem::path& path, size_t size) {
  auto fd = std::make_unique<UniqueFd>(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600));
  if (fd->get() < 0) return fd;
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  if (::write(fd->get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
      ::fsync(fd->get()) != 0) {
    return std::make_unique<UniqueFd>(-1);
  }
  return fd;
}

std::string Describe(const StorageFacts& facts) {
  auto tri = [](const std::optional<bool>& value) {
    return value.has_value() ? (*value ? "true" : "false") : "unknown";
  };
  return absl::StrCat(
      "fs_type=", facts.fs_type, " device=", facts.device, " rotational=", tri(facts.rotational),
      " discard=", tri(facts.discard), " data_journal=", tri(facts.data_journal),
      " shared_extents=", facts.shared_extents ? "true" : "false",
      " extents_mapped=", facts.extents_mapped ? "true" : "false", " options=\"",
      facts.mount_options, "\" assurance=", common::AssuranceName(BestAchievableAssurance(facts)),
      " note=\"", facts.note, "\"");
}

StorageFacts ProbeOrDie(int fd) {
  absl::StatusOr<StorageFacts> facts = ProbeStorage(fd);
  EXPECT_TRUE(facts.ok()) << facts.status();
  if (!facts.ok()) return {};
  std::cout << "[ probe    ] " << Describe(*facts) << "\n";
  return *facts;
}

// A loop device attached to an image file; detached (LOOP_CLR_FD) on
// destruction.
class LoopDevice {
 public:
  explicit LoopDevice(const boost::filesystem::path& image) {
    const std::string command = "losetup --find --show " + ShellQuote(image.string());
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return;
    char line[256] = {};
    const bool read = std::fgets(line, sizeof(line), pipe) != nullptr;
    if (::pclose(pipe) == 0 && read) device_ = std::string(absl::StripAsciiWhitespace(line));
  }
  ~LoopDevice() {
    if (device_.empty()) return;
    const int fd = ::open(device_.c_str(), O_RDONLY | O_CLOEXEC);
    const bool cleared = fd >= 0 && ::ioctl(fd, LOOP_CLR_FD, 0) == 0;
    if (fd >= 0) ::close(fd);
    if (!cleared && !RunShell("losetup -d " + ShellQuote(device_))) {
      ADD_FAILURE() << "could not detach " << device_;
    }
  }
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;

  bool ok() const { return !device_.empty(); }
  const std::string& device() const { return device_; }

 private:
  std::string device_;
};

// A mount of `device` on `dir`; unmounted on destruction (lazily as a last
// resort, so a busy mount cannot outlive the test).
class MountGuard {
 public:
  MountGuard(const std::string& device, const boost::filesystem::path& dir, const std::string& type,
             const std::string& options)
      : dir_(dir) {
    std::string command = "mount -t " + type;
    if (!options.empty()) command += " -o " + ShellQuote(options);
    mounted_ = RunShell(command + " " + ShellQuote(device) + " " + ShellQuote(dir.string()));
  }
  ~MountGuard() {
    if (!mounted_) return;
    if (::umount2(dir_.c_str(), 0) == 0) return;
    ::sync();
    if (::umount2(dir_.c_str(), 0) == 0) return;
    ADD_FAILURE() << "busy mount " << dir_ << ": detaching lazily";
    ::umount2(dir_.c_str(), MNT_DETACH);
  }
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;

  bool ok() const { return mounted_; }

 private:
  boost::filesystem::path dir_;
  bool mounted_ = false;
};

// Image, loop device and mount together; members are destroyed in reverse
// order, so the mount goes before the loop device.
struct MountedImage {
  MountedImage(const boost::filesystem::path& image, const boost::filesystem::path& dir,
               const std::string& type, const std::string& options)
      : loop(image), mount(loop.ok() ? loop.device() : "", dir, type, options) {}
  LoopDevice loop;
  MountGuard mount;
};

class LoopImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to attach loop devices and mount images";
    if (!HaveTool("losetup") || !HaveTool("mount")) GTEST_SKIP() << "losetup/mount not installed";
  }
  ~LoopImageTest() override {
    while (!images_.empty()) images_.pop_back();
  }

  // Makes a `size_mib` image with `mkfs` (image path appended), attaches and
  // mounts it, and returns the mount point; empty on failure (with a test
  // failure recorded).
  boost::filesystem::path MakeMountedImage(const std::string& name, const std::string& mkfs,
                                           int size_mib, const std::string& type,
                                           const std::string& options = "",
                                           const boost::filesystem::path& image_dir = {}) {
    const boost::filesystem::path image =
        (image_dir.empty() ? temp_.path() : image_dir) / (name + ".img");
    const boost::filesystem::path dir = temp_.path() / name;
    boost::filesystem::create_directories(dir);
    if (!RunShell(absl::StrCat("truncate -s ", size_mib, "M ", ShellQuote(image.string())))) {
      ADD_FAILURE() << "truncate " << image;
      return {};
    }
    if (!RunShell(mkfs + " " + ShellQuote(image.string()))) {
      ADD_FAILURE() << mkfs << " failed on " << image;
      return {};
    }
    images_.push_back(std::make_unique<MountedImage>(image, dir, type, options));
    if (!images_.back()->loop.ok()) {
      ADD_FAILURE() << "losetup could not attach " << image;
      return {};
    }
    if (!images_.back()->mount.ok()) {
      ADD_FAILURE() << "mount -t " << type << " -o '" << options << "' failed";
      return {};
    }
    return dir;
  }

  const std::string& LastLoopDevice() const { return images_.back()->loop.device(); }

  // Whether loop `device` is backed by `image` now.
  static bool BackedBy(const std::string& device, const boost::filesystem::path& image) {
    const std::string name = boost::filesystem::path(device).filename().string();
    std::ifstream sysfs("/sys/block/" + name + "/loop/backing_file");
    std::string backing;
    if (!std::getline(sysfs, backing)) return false;  // detached
    return backing == boost::filesystem::canonical(image).string();
  }

  // Whether loop `device` is still backed by `image` after its guard
  // detached it. Not merely whether it has a backing file: a test running
  // beside this one may attach the same device number as soon as it is free.
  // And not at once: while another process has the device open (a probe of
  // the new device), LOOP_CLR_FD only marks it to be detached on the last
  // close, so this waits up to 5 s for that.
  static bool StillBackedBy(const std::string& device, const boost::filesystem::path& image) {
    for (int tries = 0; tries < 50; ++tries) {
      if (!BackedBy(device, image)) return false;
      ::usleep(100 * 1000);
    }
    return true;
  }

  testing::TempDir temp_;  // declared first: outlives the mounts inside it
  std::vector<std::unique_ptr<MountedImage>> images_;
};

// ---------------------------------------------------------------- classification

StorageFacts InPlace(std::uint64_t magic) {
  StorageFacts facts;
  facts.fs_magic = magic;
  facts.data_journal = false;
  facts.extents_mapped = true;
  return facts;
}

TEST(BestAchievableAssuranceTest, InPlaceFilesystemsFollowTheMedia) {
  for (std::uint64_t magic : {0xEF53ull, 0x58465342ull}) {
    StorageFacts facts = InPlace(magic);
    EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kOverwriteVerified);  // unknown
    facts.rotational = true;
    EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kOverwriteVerified);
    facts.rotational = false;
    EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kOverwriteFlash);
  }
}

// Through a loop device the overwrite lands in the backing file: never more
// than that file's storage allows.
TEST(BestAchievableAssuranceTest, ALoopDeviceIsCappedByItsBackingFile) {
  StorageFacts facts = InPlace(0xEF53);
  facts.rotational = true;
  facts.backing_file = "/images/disk.img";
  for (common::Assurance backing :
       {common::Assurance::kOverwriteVerified, common::Assurance::kOverwriteFlash,
        common::Assurance::kLogicalOnly}) {
    facts.backing_limit = backing;
    EXPECT_EQ(BestAchievableAssurance(facts), backing) << common::AssuranceName(backing);
  }
  facts.rotational = false;  // flash here: a verified backing file does not raise it
  facts.backing_limit = common::Assurance::kOverwriteVerified;
  EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kOverwriteFlash);
  EXPECT_EQ(common::ParseAgentAssurance("overwrite_flash"), common::Assurance::kOverwriteFlash);
  EXPECT_EQ(common::ParseAgentAssurance("shredded"), std::nullopt);
}

// The journal keeps the probe's facts so that a resumed wipe claims what the
// first probe allowed; the loop device's cap must survive that.
TEST(StorageFactsJsonTest, TheBackingFileLimitSurvivesTheJournal) {
  StorageFacts facts = InPlace(0xEF53);
  facts.backing_file = "/images/disk.img";
  facts.backing_limit = common::Assurance::kLogicalOnly;
  absl::StatusOr<StorageFacts> back = StorageFactsFromJson(StorageFactsToJson(facts));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->backing_file, "/images/disk.img");
  EXPECT_EQ(back->backing_limit, std::optional<common::Assurance>(common::Assurance::kLogicalOnly));
  EXPECT_EQ(BestAchievableAssurance(*back), common::Assurance::kLogicalOnly);

  nlohmann::json older = StorageFactsToJson(InPlace(0xEF53));  // before loop devices were followed
  older.erase("backing_file");
  older.erase("backing_limit");
  back = StorageFactsFromJson(older);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->backing_limit, std::nullopt);

  nlohmann::json forged = StorageFactsToJson(facts);
  forged["backing_limit"] = "shredded";
  EXPECT_EQ(StorageFactsFromJson(forged).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BestAchievableAssuranceTest, AnyCopyOrUnknownMakesItLogicalOnly) {
  StorageFacts journal = InPlace(0xEF53);
  journal.data_journal = true;
  EXPECT_EQ(BestAchievableAssurance(journal), common::Assurance::kLogicalOnly);
  StorageFacts unknown_mode = InPlace(0xEF53);
  unknown_mode.data_journal.reset();
  EXPECT_EQ(BestAchievableAssurance(unknown_mode), common::Assurance::kLogicalOnly);
  StorageFacts shared = InPlace(0x58465342);
  shared.shared_extents = true;
  EXPECT_EQ(BestAchievableAssurance(shared), common::Assurance::kLogicalOnly);
  StorageFacts inline_data = InPlace(0xEF53);
  inline_data.extents_mapped = false;
  EXPECT_EQ(BestAchievableAssurance(inline_data), common::Assurance::kLogicalOnly);
  // btrfs zfs f2fs nilfs2 bcachefs overlay tmpfs nfs cifs smb2 fuse, and none at all.
  for (std::uint64_t magic :
       {0x9123683Eull, 0x2FC12FC1ull, 0xF2F52010ull, 0x3434ull, 0xca451a4eull, 0x794c7630ull,
        0x01021994ull, 0x6969ull, 0xFF534D42ull, 0xFE534D42ull, 0x65735546ull, 0x0ull}) {
    StorageFacts facts = InPlace(magic);
    facts.rotational = true;
    EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kLogicalOnly) << std::hex << magic;
  }
}

TEST(FilesystemMagicNameTest, NamesTheCommonOnes) {
  EXPECT_STREQ(FilesystemMagicName(0xEF53), "ext2/3/4");
  EXPECT_STREQ(FilesystemMagicName(0x9123683E), "btrfs");
  EXPECT_STREQ(FilesystemMagicName(0x65735546), "fuse");
  EXPECT_EQ(FilesystemMagicName(0x12345678), nullptr);
}

// ---------------------------------------------------------------- mountinfo

TEST(MountInfoTest, ParsesOptionalFieldsAndEscapes) {
  const auto entry = ParseMountInfoLine(
      "36 35 7:3 / /mnt/with\\040space rw,relatime shared:1 master:2 - ext4 /dev/loop3 "
      "rw,data=journal");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->mount_id, 36u);
  EXPECT_EQ(entry->major, 7u);
  EXPECT_EQ(entry->minor, 3u);
  EXPECT_EQ(entry->mount_point, "/mnt/with space");
  EXPECT_EQ(entry->mount_options, "rw,relatime");
  EXPECT_EQ(entry->fs_type, "ext4");
  EXPECT_EQ(entry->source, "/dev/loop3");
  EXPECT_EQ(entry->super_options, "rw,data=journal");
  // As the kernel prints a filesystem mounted with an empty source.
  const auto no_source = ParseMountInfoLine("42 27 0:39 / /mnt rw,relatime - tmpfs  rw,size=64k");
  ASSERT_TRUE(no_source.has_value());
  EXPECT_EQ(no_source->fs_type, "tmpfs");
  EXPECT_EQ(no_source->source, "");
  EXPECT_EQ(no_source->super_options, "rw,size=64k");
  EXPECT_FALSE(ParseMountInfoLine("36 35 7:3 / /mnt").has_value());
  EXPECT_FALSE(ParseMountInfoLine("36 35 x:3 / /mnt rw - ext4 /dev/loop3 rw").has_value());
}

TEST(MountInfoTest, PrefersTheMountThatHoldsTheFile) {
  const std::string mountinfo =
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "2 1 8:2 / /data rw - xfs /dev/sda2 rw\n"
      "3 1 8:2 /sub /srv/bind ro - xfs /dev/sda2 rw\n";
  EXPECT_EQ(FindMount(mountinfo, 8, 2, "/srv/bind/x")->mount_point, "/srv/bind");
  EXPECT_EQ(FindMount(mountinfo, 8, 2, "/data/x")->mount_point, "/data");
  EXPECT_EQ(FindMount(mountinfo, 8, 2, "/dataset/x")->mount_point, "/data");  // first
  EXPECT_EQ(FindMount(mountinfo, 8, 1, "/etc/x")->source, "/dev/sda1");
  // No entry with the device: the mount holding the path (btrfs subvolumes).
  EXPECT_EQ(FindMount(mountinfo, 0, 40, "/data/sub/x")->mount_point, "/data");
  EXPECT_FALSE(FindMount("", 9, 9, "/x").has_value());
}

TEST(MountInfoTest, AMountLeadsOutWhenItShowsDataFromElsewhere) {
  const std::string mountinfo =
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "2 1 8:2 / /srv/vendor/disk rw - xfs /dev/sda2 rw\n"
      "3 1 8:1 /etc /srv/vendor/etc rw - ext4 /dev/sda1 rw\n"
      "4 1 8:3 / /srv/vendor/both rw - xfs /dev/sda3 rw\n"
      "5 1 8:3 / /mnt/backup rw - xfs /dev/sda3 rw\n"
      "6 1 8:4 / /srv/vendor/twice rw - xfs /dev/sda4 rw\n"
      "7 1 8:4 / /srv/vendor/again rw - xfs /dev/sda4 rw\n";
  // A whole filesystem mounted only inside the root: crossing is safe.
  EXPECT_EQ(MountLeadsOutside(mountinfo, 2, "/srv/vendor"), std::nullopt);
  EXPECT_EQ(MountLeadsOutside(mountinfo, 6, "/srv/vendor"), std::nullopt);
  // A bind mount of a directory shows data that lives outside the root.
  EXPECT_THAT(MountLeadsOutside(mountinfo, 3, "/srv/vendor").value_or(""),
              HasSubstr("shows only /etc of filesystem 8:1"));
  // The same filesystem is mounted outside the root as well.
  EXPECT_THAT(MountLeadsOutside(mountinfo, 4, "/srv/vendor").value_or(""),
              HasSubstr("also mounted at /mnt/backup, outside /srv/vendor"));
  // "/srv/vendor2" is not below "/srv/vendor".
  EXPECT_TRUE(MountLeadsOutside(mountinfo, 2, "/srv/vendor/dis").has_value());
  // Nothing lies outside "/".
  EXPECT_EQ(MountLeadsOutside(mountinfo, 3, "/"), std::nullopt);
  // Network, FUSE and overlay filesystems show data kept elsewhere.
  const std::string remote = mountinfo +
                             "8 1 0:50 / /srv/vendor/nfs rw - nfs4 host:/export rw\n"
                             "9 1 0:51 / /srv/vendor/ssh rw - fuse.sshfs me@host: rw\n";
  EXPECT_THAT(MountLeadsOutside(remote, 8, "/srv/vendor").value_or(""), HasSubstr("is nfs4"));
  EXPECT_THAT(MountLeadsOutside(remote, 9, "/srv/vendor").value_or(""), HasSubstr("fuse.sshfs"));
  // A line that cannot be read could hide the filesystem's other mount.
  EXPECT_THAT(MountLeadsOutside(mountinfo + "garbage\n", 2, "/srv/vendor").value_or(""),
              HasSubstr("cannot be read"));
  // A mount the table does not know (unmounted meanwhile) is refused.
  EXPECT_THAT(MountLeadsOutside(mountinfo, 99, "/srv/vendor").value_or(""),
              HasSubstr("not in /proc/self/mountinfo"));
}

// btrfs: "/" is subvolume @ and the vendor's data subvolume @data is mounted
// inside the root, as distributions lay btrfs out.
TEST(MountInfoTest, AWholeBtrfsSubvolumeIsAWholeTreeUnlessShownElsewhereToo) {
  // Every mount's root is a subvolume's root, as the kernel would confirm.
  const auto subvolume_roots = [](const MountInfoEntry&) { return true; };
  const std::string layout =
      "1 0 0:31 /@ / rw - btrfs /dev/sda2 rw,ssd,subvolid=256,subvol=/@\n"
      "2 1 0:31 /@home /home rw - btrfs /dev/sda2 rw,ssd,subvolid=257,subvol=/@home\n"
      "3 1 0:31 /@data /srv/vendor/data rw - btrfs /dev/sda2 rw,ssd,subvolid=258,subvol=/@data\n"
      "4 1 0:31 /@data/x /srv/vendor/x rw - btrfs /dev/sda2 rw,ssd,subvolid=258,subvol=/@data\n"
      "5 1 0:31 /@data/inner /srv/vendor/inner rw - btrfs /dev/sda2 "
      "rw,ssd,subvolid=259,subvol=/@data/inner\n"
      "6 1 0:32 /@a /srv/vendor/a rw - xfs /dev/sdb1 rw,subvol=/@a\n"
      "7 1 0:31 /@database /srv/vendor/db rw - btrfs /dev/sda2 rw,subvolid=260,subvol=/@database\n";
  // Sibling subvolumes mounted outside the root share no file with @data.
  EXPECT_EQ(MountLeadsOutside(layout, 3, "/srv/vendor", subvolume_roots), std::nullopt);
  // A subvolume nested in @data and mounted inside the root as well: both
  // mounts are inside, so nothing is shown outside.
  EXPECT_EQ(MountLeadsOutside(layout, 5, "/srv/vendor", subvolume_roots), std::nullopt);
  // "/@database" is not below "/@data".
  EXPECT_EQ(MountLeadsOutside(layout, 7, "/srv/vendor", subvolume_roots), std::nullopt);
  // A directory inside a subvolume is still a bind mount.
  EXPECT_THAT(MountLeadsOutside(layout, 4, "/srv/vendor", subvolume_roots).value_or(""),
              HasSubstr("shows only /@data/x of filesystem 0:31 (a bind mount)"));
  // Before Linux 5.9, btrfs showed a bind mount's own root as its subvol=:
  // only the mount point's inode (256 for a subvolume root) tells.
  const std::string old_kernel =
      layout + "8 1 0:31 /@data/x /srv/vendor/y rw - btrfs /dev/sda2 rw,subvol=/@data/x\n";
  EXPECT_THAT(MountLeadsOutside(old_kernel, 8, "/srv/vendor",
                                [](const MountInfoEntry& m) { return m.mount_id != 8; })
                  .value_or(""),
              HasSubstr("shows only /@data/x of filesystem 0:31 (a bind mount)"));
  // subvol= counts only on btrfs.
  EXPECT_THAT(MountLeadsOutside(layout, 6, "/srv/vendor", subvolume_roots).value_or(""),
              HasSubstr("a bind mount"));

  // The whole filesystem (subvolid 5) mounted outside shows @data again.
  const std::string top =
      layout + "8 1 0:31 / /mnt/pool rw - btrfs /dev/sda2 rw,ssd,subvolid=5,subvol=/\n";
  EXPECT_THAT(MountLeadsOutside(top, 3, "/srv/vendor", subvolume_roots).value_or(""),
              HasSubstr("mounted at /srv/vendor/data (subvolume /@data) is also mounted at "
                        "/mnt/pool, outside /srv/vendor"));
  // So does a second mount of @data, or of a subvolume nested in it.
  const std::string again =
      layout + "8 1 0:31 /@data /mnt/copy rw - btrfs /dev/sda2 rw,subvolid=258,subvol=/@data\n";
  EXPECT_THAT(MountLeadsOutside(again, 3, "/srv/vendor", subvolume_roots).value_or(""),
              HasSubstr("also mounted at /mnt/copy (/@data), outside"));
  const std::string nested =
      layout + "8 1 0:31 /@data/inner /mnt/in rw - btrfs /dev/sda2 rw,subvol=/@data/inner\n";
  EXPECT_THAT(MountLeadsOutside(nested, 3, "/srv/vendor", subvolume_roots).value_or(""),
              HasSubstr("also mounted at /mnt/in (/@data/inner), outside"));
  // And @data is inside @inner's parent: crossing into @inner is refused
  // when @data is mounted outside.
  EXPECT_TRUE(MountLeadsOutside(again, 5, "/srv/vendor", subvolume_roots).has_value());
}

// ---------------------------------------------------------------- real files

TEST(ProbeStorageTest, RefusesWhatIsNotARegularFile) {
  testing::TempDir temp;
  UniqueFd dir(::open(temp.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(dir.get(), 0);
  EXPECT_EQ(ProbeStorage(dir.get()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ProbeStorage(-1).ok());
}

TEST(MountInfoTest, StatMountSaysWhichMountAndWhetherItsRoot) {
  // /proc is a mount of its own on every system the agent runs on.
  const absl::StatusOr<MountStat> proc = StatMount(AT_FDCWD, "/proc", 0, "/proc");
  ASSERT_TRUE(proc.ok()) << proc.status();
  EXPECT_TRUE(proc->mount_root);
  EXPECT_NE(proc->mount_id, 0u);
  const absl::StatusOr<std::string> mountinfo = common::ReadFileToString("/proc/self/mountinfo");
  ASSERT_TRUE(mountinfo.ok());
  bool listed = false;
  for (absl::string_view line : absl::StrSplit(*mountinfo, '\n')) {
    const auto entry = ParseMountInfoLine(line);
    if (entry && entry->mount_point == "/proc" && entry->mount_id == proc->mount_id) listed = true;
  }
  EXPECT_TRUE(listed) << "statx's mount id of /proc is not mountinfo's";

  testing::TempDir temp;
  const std::string file = (temp.path() / "data.bin").string();
  std::ofstream(file) << "x";
  UniqueFd dir(::open(temp.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(dir.get(), 0);
  const absl::StatusOr<MountStat> by_name = StatMount(dir.get(), "data.bin", 0, "data.bin");
  const absl::StatusOr<MountStat> of_dir = StatMount(dir.get(), "", AT_EMPTY_PATH, "dir");
  ASSERT_TRUE(by_name.ok() && of_dir.ok());
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(by_name->inode, st.st_ino);
  EXPECT_FALSE(by_name->mount_root);
  EXPECT_EQ(by_name->mount_id, of_dir->mount_id);
  EXPECT_NE(by_name->mount_id, proc->mount_id);
  // A symlink is not followed: it lives where it is, not on /proc.
  ASSERT_EQ(::symlink("/proc", (temp.path() / "link").c_str()), 0);
  const absl::StatusOr<MountStat> link = StatMount(dir.get(), "link", 0, "link");
  ASSERT_TRUE(link.ok());
  EXPECT_FALSE(link->mount_root);
  EXPECT_EQ(link->mount_id, of_dir->mount_id);
  const absl::StatusOr<MountStat> missing = StatMount(dir.get(), "nothing", 0, "the thing");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("statx the thing"));
}

TEST(ProbeStorageTest, FileInTheTestsOwnTempDir) {
  testing::TempDir temp;
  auto fd = WriteDataFile(temp.path() / "data.bin", 64 * 1024);
  ASSERT_GE(fd->get(), 0);
  const StorageFacts facts = ProbeOrDie(fd->get());
  EXPECT_FALSE(facts.fs_type.empty());
  EXPECT_NE(facts.fs_type, "unknown");
  EXPECT_FALSE(facts.mount_point.empty()) << facts.note;
  EXPECT_FALSE(facts.shared_extents);
  const common::Assurance level = BestAchievableAssurance(facts);
  if (facts.fs_type == "tmpfs" || facts.fs_type == "btrfs" || facts.fs_type == "overlay") {
    EXPECT_EQ(level, common::Assurance::kLogicalOnly);
  }
  if (facts.fs_type == "ext4" && facts.data_journal == false && facts.extents_mapped) {
    EXPECT_NE(level, common::Assurance::kLogicalOnly);
  }
}

TEST_F(LoopImageTest, Ext4FollowsTheLoopDevicesRotationalFlag) {
  if (!HaveTool("mkfs.ext4")) GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not installed";
  const auto dir = MakeMountedImage("ext4", "mkfs.ext4 -q -F -b 4096", 32, "ext4");
  ASSERT_FALSE(dir.empty());
  auto fd = WriteDataFile(dir / "data.bin", 256 * 1024);
  ASSERT_GE(fd->get(), 0);
  const StorageFacts facts = ProbeOrDie(fd->get());
  EXPECT_EQ(facts.fs_type, "ext4");
  EXPECT_EQ(facts.device, LastLoopDevice());
  EXPECT_THAT(facts.device, StartsWith("/dev/loop"));
  EXPECT_EQ(facts.data_journal, std::optional<bool>(false));
  EXPECT_FALSE(facts.shared_extents);
  EXPECT_TRUE(facts.extents_mapped);
  EXPECT_TRUE(facts.rotational.has_value());
  EXPECT_THAT(facts.note, HasSubstr("loop device backed by"));
  // The backing file was probed too, and its storage caps this one.
  ASSERT_TRUE(facts.backing_limit.has_value()) << facts.note;
  EXPECT_THAT(facts.note, HasSubstr("its backing file is on"));
  const common::Assurance here = facts.rotational == false ? common::Assurance::kOverwriteFlash
                                                           : common::Assurance::kOverwriteVerified;
  EXPECT_EQ(BestAchievableAssurance(facts), std::max(here, *facts.backing_limit));
}

// An ext4 image whose backing file is in RAM (tmpfs, which swap may copy):
// the overwrite through the loop device reaches no disk, so logical_only,
// however in-place the ext4 on top is.
TEST_F(LoopImageTest, Ext4OnATmpfsBackedLoopDeviceIsLogicalOnly) {
  if (!HaveTool("mkfs.ext4")) GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not installed";
  const boost::filesystem::path ram = temp_.path() / "ram";
  boost::filesystem::create_directories(ram);
  MountGuard tmpfs("tmpfs", ram, "tmpfs", "size=64m");
  ASSERT_TRUE(tmpfs.ok());
  // Whatever happens below, the image is unmounted and detached before the
  // tmpfs under it.
  absl::Cleanup detach = [this] { images_.clear(); };
  const auto dir = MakeMountedImage("on-ram", "mkfs.ext4 -q -F -b 4096", 32, "ext4", "", ram);
  ASSERT_FALSE(dir.empty());
  auto fd = WriteDataFile(dir / "data.bin", 256 * 1024);
  ASSERT_GE(fd->get(), 0);
  const StorageFacts facts = ProbeOrDie(fd->get());
  fd.reset();
  EXPECT_EQ(facts.fs_type, "ext4");
  EXPECT_TRUE(facts.extents_mapped);
  EXPECT_EQ(facts.data_journal, std::optional<bool>(false));
  EXPECT_EQ(facts.backing_limit, std::optional<common::Assurance>(common::Assurance::kLogicalOnly))
      << facts.note;
  // Because the backing file is on tmpfs, not because it could not be examined.
  EXPECT_THAT(facts.note, HasSubstr("its backing file is on tmpfs"));
  EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kLogicalOnly);
}

TEST_F(LoopImageTest, Ext4WithDataJournalIsLogicalOnly) {
  if (!HaveTool("mkfs.ext4")) GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not installed";
  const auto dir =
      MakeMountedImage("ext4-journal", "mkfs.ext4 -q -F -b 4096", 32, "ext4", "data=journal");
  ASSERT_FALSE(dir.empty());
  auto fd = WriteDataFile(dir / "data.bin", 256 * 1024);
  ASSERT_GE(fd->get(), 0);
  const StorageFacts facts = ProbeOrDie(fd->get());
  EXPECT_EQ(facts.fs_type, "ext4");
  EXPECT_THAT(facts.mount_options, HasSubstr("data=journal"));
  EXPECT_EQ(facts.data_journal, std::optional<bool>(true));
  EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kLogicalOnly);
}

TEST_F(LoopImageTest, Ext4FileWithItsOwnJournalDataFlagIsLogicalOnly) {
  if (!HaveTool("mkfs.ext4")) GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not installed";
  const auto dir = MakeMountedImage("ext4-plusj", "mkfs.ext4 -q -F -b 4096", 32, "ext4");
  ASSERT_FALSE(dir.empty());
  auto fd = WriteDataFile(dir / "data.bin", 64 * 1024);
  ASSERT_GE(fd->get(), 0);
  int flags = 0;
  ASSERT_EQ(::ioctl(fd->get(), FS_IOC_GETFLAGS, &flags), 0);
  flags |= FS_JOURNAL_DATA_FL;  // chattr +j
  if (::ioctl(fd->get(), FS_IOC_SETFLAGS, &flags) != 0 && errno == EPERM) {
    GTEST_SKIP() << "setting the journal-data flag (chattr +j) needs CAP_SYS_RESOURCE";
  }
  ASSERT_TRUE(flags & FS_JOURNAL_DATA_FL);
  const StorageFacts facts = ProbeOrDie(fd->get());
  EXPECT_EQ(facts.data_journal, std::optional<bool>(true));
  EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kLogicalOnly);
}

TEST_F(LoopImageTest, BtrfsIsLogicalOnlyAndSeesReflinks) {
  if (!HaveTool("mkfs.btrfs"))
    GTEST_SKIP() << "mkfs.btrfs not installed (apt-get install btrfs-progs)";
  const auto dir = MakeMountedImage("btrfs", "mkfs.btrfs -q -f", 128, "btrfs");
  ASSERT_FALSE(dir.empty());
  auto original = WriteDataFile(dir / "original.bin", 256 * 1024);
  ASSERT_GE(original->get(), 0);
  const StorageFacts before = ProbeOrDie(original->get());
  EXPECT_EQ(before.fs_type, "btrfs");
  EXPECT_EQ(before.device, LastLoopDevice());
  EXPECT_FALSE(before.shared_extents);
  EXPECT_EQ(BestAchievableAssurance(before), common::Assurance::kLogicalOnly);

  // btrfs keeps a small file inline in its metadata: no extent of its own.
  auto tiny = WriteDataFile(dir / "tiny.bin", 100);
  ASSERT_GE(tiny->get(), 0);
  EXPECT_FALSE(ProbeOrDie(tiny->get()).extents_mapped);

  ASSERT_TRUE(RunShell("cp --reflink=always " + ShellQuote((dir / "original.bin").string()) + " " +
                       ShellQuote((dir / "copy.bin").string())));
  UniqueFd copy(::open((dir / "copy.bin").c_str(), O_RDONLY));
  ASSERT_GE(copy.get(), 0);
  for (int fd : {original->get(), copy.get()}) {
    const StorageFacts facts = ProbeOrDie(fd);
    EXPECT_TRUE(facts.shared_extents);
    EXPECT_EQ(BestAchievableAssurance(facts), common::Assurance::kLogicalOnly);
  }
}

TEST_F(LoopImageTest, GuardsLeaveNoMountOrLoopDeviceBehind) {
  if (!HaveTool("mkfs.ext4")) GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not installed";
  std::string device;
  const boost::filesystem::path dir = temp_.path() / "scoped";
  {
    ASSERT_FALSE(MakeMountedImage("scoped", "mkfs.ext4 -q -F -b 4096", 32, "ext4").empty());
    device = LastLoopDevice();
    EXPECT_TRUE(BackedBy(device, temp_.path() / "scoped.img"));
    images_.pop_back();
  }
  EXPECT_FALSE(StillBackedBy(device, temp_.path() / "scoped.img"));
  EXPECT_FALSE(
      RunShell("grep -qF " + ShellQuote(" " + dir.string() + " ") + " /proc/self/mountinfo"));
}

TEST_F(LoopImageTest, FailedMountStillDetachesTheLoopDevice) {
  if (!HaveTool("mkfs.ext4")) GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not installed";
  const boost::filesystem::path image = temp_.path() / "bad.img";
  const boost::filesystem::path dir = temp_.path() / "bad";
  boost::filesystem::create_directories(dir);
  ASSERT_TRUE(RunShell("truncate -s 32M " + ShellQuote(image.string())));
  ASSERT_TRUE(RunShell("mkfs.ext4 -q -F -b 4096 " + ShellQuote(image.string())));
  std::string device;
  {
    MountedImage mounted(image, dir, "ext4", "no_such_option_at_all");
    ASSERT_TRUE(mounted.loop.ok());
    EXPECT_FALSE(mounted.mount.ok());
    device = mounted.loop.device();
    EXPECT_TRUE(BackedBy(device, image));
  }
  EXPECT_FALSE(StillBackedBy(device, image));
}

}  // namespace
}  // namespace offboard::agent
