#include "agent/scan/tree_walker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct WalkResult {
  std::vector<std::string> files;  // paths relative to the root
  std::vector<ScanError> errors;
};

// Walks `root` and opens every file handed out as the scanner does, so that
// what OpenWalkedFile refuses shows among the errors.
WalkResult Walk(const boost::filesystem::path& root, WalkOptions options = {}) {
  WalkResult result;
  const std::string prefix = boost::filesystem::canonical(root).string() + "/";
  const absl::Status status = WalkTree(
      root, options,
      [&](WalkedFile file) {
        EXPECT_TRUE(file.path.starts_with(prefix)) << file.path;
        absl::StatusOr<OpenedFile> opened = OpenWalkedFile(file, options);
        if (!opened.ok()) {
          result.errors.push_back(
              {.path = file.path, .member = {}, .reason = std::string(opened.status().message())});
          return;
        }
        // The handle really opens the file it names.
        struct stat info {};
        EXPECT_EQ(::fstatat(file.dir->fd(), file.name.c_str(), &info, AT_SYMLINK_NOFOLLOW), 0);
        EXPECT_EQ(info.st_ino, opened->info.st_ino);
        result.files.push_back(file.path.substr(prefix.size()));
      },
      result.errors);
  EXPECT_TRUE(status.ok()) << status;
  std::sort(result.files.begin(), result.files.end());
  return result;
}

TEST(TreeWalkerTest, FindsRegularFilesInNestedDirectories) {
  testing::TempDir dir;
  dir.WriteFile("root/a.csv", "a");
  dir.WriteFile("root/x/y/z/b.csv", "b");
  dir.WriteFile("root/x/empty", "");
  const WalkResult result = Walk(dir.path() / "root");
  EXPECT_THAT(result.files, ElementsAre("a.csv", "x/empty", "x/y/z/b.csv"));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST(TreeWalkerTest, NeverFollowsSymlinksOutOfTheRoot) {
  testing::TempDir dir;
  dir.WriteFile("outside/secret.csv", "bank data");
  dir.WriteFile("root/inside.csv", "x");
  boost::filesystem::create_symlink(dir.path() / "outside/secret.csv",
                                    dir.path() / "root/link.csv");
  boost::filesystem::create_directory_symlink(dir.path() / "outside", dir.path() / "root/linkdir");
  boost::filesystem::create_symlink("../outside/secret.csv", dir.path() / "root/relative.csv");
  const WalkResult result = Walk(dir.path() / "root");
  EXPECT_THAT(result.files, ElementsAre("inside.csv"));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST(TreeWalkerTest, ReportsASymlinkLoopOnce) {
  testing::TempDir dir;
  dir.WriteFile("root/f", "x");
  boost::filesystem::create_symlink("b", dir.path() / "root/a");
  boost::filesystem::create_symlink("a", dir.path() / "root/b");
  boost::filesystem::create_symlink("self", dir.path() / "root/self");
  const WalkResult result = Walk(dir.path() / "root");
  EXPECT_THAT(result.files, ElementsAre("f"));
  ASSERT_EQ(result.errors.size(), 2u);  // the a<->b loop once, the self loop once
  for (const ScanError& error : result.errors) EXPECT_THAT(error.reason, HasSubstr("symlink loop"));
}

TEST(TreeWalkerTest, NeverOpensFifosSocketsOrDevices) {
  testing::TempDir dir;
  dir.WriteFile("root/file", "x");
  ASSERT_EQ(::mkfifo((dir.path() / "root/fifo").c_str(), 0600), 0);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socket_path = (dir.path() / "root/sock").string();
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::copy(socket_path.begin(), socket_path.end(), address.sun_path);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  // A device node needs root; without it the test covers FIFOs and sockets.
  ::mknod((dir.path() / "root/null").c_str(), S_IFCHR | 0600, makedev(1, 3));
  const WalkResult result = Walk(dir.path() / "root");
  ::close(sock);
  EXPECT_THAT(result.files, ElementsAre("file"));
  EXPECT_THAT(result.errors, IsEmpty());
}

// The walk trusts the listing's d_type for regular files; what replaces one
// between the listing and the open is refused at the open, without blocking
// on a FIFO or following a symlink out.
TEST(TreeWalkerTest, AFileSwappedAfterTheListingIsRefusedAtTheOpen) {
  testing::TempDir dir;
  dir.WriteFile("outside/secret.csv", "bank data");
  dir.WriteFile("root/fifo", "x");
  dir.WriteFile("root/link", "x");
  dir.WriteFile("root/gone", "x");
  std::vector<std::string> refused;
  int removed = 0;
  const auto on_file = [&](WalkedFile file) {
    const boost::filesystem::path path = file.path;
    boost::filesystem::remove(path);
    if (file.name == "fifo") {
      ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    }
    if (file.name == "link") {
      boost::filesystem::create_symlink(dir.path() / "outside/secret.csv", path);
    }
    absl::StatusOr<OpenedFile> opened = OpenWalkedFile(file, {});
    ASSERT_FALSE(opened.ok()) << file.name;
    if (absl::IsNotFound(opened.status())) {
      ++removed;
    } else {
      refused.push_back(absl::StrCat(file.name, ": ", opened.status().message()));
    }
  };
  std::vector<ScanError> errors;
  ASSERT_TRUE(WalkTree(dir.path() / "root", {}, on_file, errors).ok());
  std::sort(refused.begin(), refused.end());
  EXPECT_THAT(refused, ElementsAre(HasSubstr("fifo: changed into something other than a regular"),
                                   HasSubstr("link: cannot open: Too many levels of symbolic")));
  EXPECT_EQ(removed, 1);
  EXPECT_THAT(errors, IsEmpty());
}

TEST(TreeWalkerTest, CarriesNamesWithNewlinesAndInvalidUtf8Exactly) {
  testing::TempDir dir;
  dir.WriteFile("root/line\nbreak.csv", "x");
  dir.WriteFile(std::string("root/bad\xff\xfe.csv"), "y");
  const WalkResult result = Walk(dir.path() / "root");
  EXPECT_THAT(result.files, ElementsAre(std::string("bad\xff\xfe.csv"), "line\nbreak.csv"));
}

TEST(TreeWalkerTest, ARootThatIsAFileIsThatFile) {
  testing::TempDir dir;
  const auto file = dir.WriteFile("only.csv", "x");
  std::vector<std::string> seen;
  std::vector<ScanError> errors;
  ASSERT_TRUE(WalkTree(
                  file, {}, [&](WalkedFile f) { seen.push_back(f.path); }, errors)
                  .ok());
  EXPECT_THAT(seen, ElementsAre(boost::filesystem::canonical(file).string()));
}

TEST(TreeWalkerTest, AMissingRootIsNotFound) {
  testing::TempDir dir;
  std::vector<ScanError> errors;
  const absl::Status status = WalkTree(
      dir.path() / "absent", {}, [](WalkedFile) {}, errors);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("absent"));
}

TEST(TreeWalkerTest, ReportsUnreadableDirectories) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every directory; run as a user to cover this";
  testing::TempDir dir;
  dir.WriteFile("root/locked/f", "x");
  ::chmod((dir.path() / "root/locked").c_str(), 0);
  const WalkResult result = Walk(dir.path() / "root");
  ::chmod((dir.path() / "root/locked").c_str(), 0700);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].path, HasSubstr("locked"));
}

// A tmpfs mounted below the root, unmounted on every path out of the test.
class MountedTmpfs {
 public:
  explicit MountedTmpfs(const boost::filesystem::path& at) : at_(at) {
    boost::filesystem::create_directories(at);
    mounted_ = ::mount("offboard-test", at.c_str(), "tmpfs", 0, "size=1m") == 0;
  }
  ~MountedTmpfs() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  boost::filesystem::path at_;
  bool mounted_ = false;
};

TEST(TreeWalkerTest, StaysOnTheRootFilesystemUnlessAsked) {
  testing::TempDir dir;
  dir.WriteFile("root/top.csv", "x");
  MountedTmpfs mount(dir.path() / "root/mnt");
  if (!mount.mounted()) GTEST_SKIP() << "cannot mount tmpfs here (needs root)";
  dir.WriteFile("root/mnt/below.csv", "y");

  const WalkResult same_fs = Walk(dir.path() / "root");
  EXPECT_THAT(same_fs.files, ElementsAre("top.csv"));
  ASSERT_EQ(same_fs.errors.size(), 1u);
  EXPECT_THAT(same_fs.errors[0].reason, HasSubstr("--cross-filesystems"));

  const WalkResult crossing = Walk(dir.path() / "root", {.cross_filesystems = true});
  EXPECT_THAT(crossing.files, ElementsAre("mnt/below.csv", "top.csv"));
  EXPECT_THAT(crossing.errors, IsEmpty());
}

// The listing's d_type is that of the entry a mount covers, so an entry with
// something mounted on it must be looked at, not trusted: a device bound over
// a file (containers bind /dev/null so) is skipped like any device, unopened.
TEST(TreeWalkerTest, ADeviceBindMountedOverAFileIsNeverHandedOut) {
  testing::TempDir dir;
  dir.WriteFile("root/top.csv", "x");
  const auto target = dir.WriteFile("root/masked.csv", "covered");
  if (::mount("/dev/null", target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    GTEST_SKIP() << "cannot bind-mount here (needs root)";
  }
  const WalkResult result = Walk(dir.path() / "root");
  ::umount2(target.c_str(), MNT_DETACH);
  EXPECT_THAT(result.files, ElementsAre("top.csv"));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST(TreeWalkerTest, AFileBindMountedFromAnotherFilesystemIsReportedNotRead) {
  testing::TempDir dir;
  dir.WriteFile("root/top.csv", "x");
  const auto target = dir.WriteFile("root/secret.csv", "");
  MountedTmpfs other(dir.path() / "other");
  if (!other.mounted()) GTEST_SKIP() << "cannot mount tmpfs here (needs root)";
  const auto source = dir.WriteFile("other/secret.csv", "from elsewhere");
  ASSERT_EQ(::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr), 0);
  const WalkResult result = Walk(dir.path() / "root");
  ::umount2(target.c_str(), MNT_DETACH);
  EXPECT_THAT(result.files, ElementsAre("top.csv"));
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].reason, HasSubstr("file mounted from another filesystem"));
}

}  // namespace
}  // namespace offboard::agent
