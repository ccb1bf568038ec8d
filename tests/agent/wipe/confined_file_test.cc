// Tests of the confined opener: it must reach files below a root and refuse
// every way out — symlinks anywhere on the path, "..", paths outside, special
// files (never opened), and, as root, bind mounts.
#include "agent/wipe/confined_file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;
using ::testing::HasSubstr;

class ConfinedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::canonical(temp_.path()) / "root";
    outside_ = fs::canonical(temp_.path()) / "outside";
    fs::create_directories(root_ / "a" / "b");
    fs::create_directories(outside_);
    temp_.WriteFile("root/a/b/file.csv", "bank data");
    temp_.WriteFile("outside/secret.csv", "not ours");
  }

  WipeRoot OpenRoot() {
    absl::StatusOr<WipeRoot> root = WipeRoot::Open(root_);
    EXPECT_TRUE(root.ok()) << root.status();
    return *std::move(root);
  }

  testing::TempDir temp_;
  fs::path root_;
  fs::path outside_;
};

TEST_F(ConfinedFileTest, OpensAFileBelowTheRootWithItsDirectory) {
  WipeRoot root = OpenRoot();
  absl::StatusOr<ConfinedFile> file = root.OpenFile((root_ / "a/b/file.csv").string(), O_RDWR);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->name, "file.csv");
  EXPECT_TRUE(S_ISREG(file->st.st_mode));
  char buffer[16] = {};
  ASSERT_EQ(::pread(file->fd.get(), buffer, sizeof(buffer), 0), 9);
  EXPECT_STREQ(buffer, "bank data");
  struct stat in_dir {};
  ASSERT_EQ(::fstatat(file->dir.get(), "file.csv", &in_dir, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_EQ(in_dir.st_ino, file->st.st_ino);
}

TEST_F(ConfinedFileTest, RefusesPathsOutsideTheRootAndDotDot) {
  WipeRoot root = OpenRoot();
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.OpenFile((outside_ / "secret.csv").string(), O_RDWR).status()));
  // A sibling whose name starts like the root is not inside it.
  fs::create_directories(root_.string() + "2");
  EXPECT_FALSE(root.Contains(root_.string() + "2/x"));
  EXPECT_TRUE(root.Contains((root_ / "a").string()));
  const absl::Status dotdot =
      root.OpenFile((root_ / "a/../../outside/secret.csv").string(), O_RDWR).status();
  EXPECT_TRUE(absl::IsPermissionDenied(dotdot)) << dotdot;
  EXPECT_THAT(dotdot.message(), HasSubstr("'..'"));
}

TEST_F(ConfinedFileTest, RefusesASymlinkedDirectoryOnTheWay) {
  fs::create_symlink(outside_, root_ / "a" / "link");
  WipeRoot root = OpenRoot();
  const absl::Status status =
      root.OpenFile((root_ / "a/link/secret.csv").string(), O_RDWR).status();
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("symlink"));
}

TEST_F(ConfinedFileTest, RefusesASymlinkAsTheLeaf) {
  fs::create_symlink(outside_ / "secret.csv", root_ / "a" / "leaf.csv");
  WipeRoot root = OpenRoot();
  const absl::Status status = root.OpenFile((root_ / "a/leaf.csv").string(), O_RDWR).status();
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
}

TEST_F(ConfinedFileTest, NeverOpensFifosOrSockets) {
  ASSERT_EQ(::mkfifo((root_ / "a/pipe").c_str(), 0600), 0);
  WipeRoot root = OpenRoot();
  // A FIFO opened for writing would block forever; the call must return.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      root.OpenFile((root_ / "a/pipe").string(), O_RDWR).status()));

  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socket_path = (root_ / "a/sock").string();
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::strcpy(address.sun_path, socket_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(root.OpenFile(socket_path, O_RDWR).status()));
  ::close(sock);
}

TEST_F(ConfinedFileTest, RefusesDeviceNodes) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod of a device node needs root";
  ASSERT_EQ(::mknod((root_ / "a/null").c_str(), S_IFCHR | 0600, makedev(1, 3)), 0);
  WipeRoot root = OpenRoot();
  EXPECT_TRUE(absl::IsFailedPrecondition(
      root.OpenFile((root_ / "a/null").string(), O_RDWR).status()));
}

TEST_F(ConfinedFileTest, RefusesBindMountsLeadingOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "bind mounts need root";
  fs::create_directories(root_ / "a" / "mnt");
  temp_.WriteFile("root/a/bound.csv", "");
  ASSERT_EQ(::mount(outside_.c_str(), (root_ / "a/mnt").c_str(), nullptr, MS_BIND, nullptr), 0);
  ASSERT_EQ(::mount((outside_ / "secret.csv").c_str(), (root_ / "a/bound.csv").c_str(), nullptr,
                    MS_BIND, nullptr),
            0);
  WipeRoot root = OpenRoot();
  const absl::Status through_dir =
      root.OpenFile((root_ / "a/mnt/secret.csv").string(), O_RDWR).status();
  const absl::Status file_mount = root.OpenFile((root_ / "a/bound.csv").string(), O_RDWR).status();
  // Even when crossing mounts is allowed, a mount point as the leaf is refused.
  const absl::Status file_mount_crossing =
      root.OpenFile((root_ / "a/bound.csv").string(), O_RDWR, /*cross_mounts=*/true).status();
  ::umount2((root_ / "a/bound.csv").c_str(), MNT_DETACH);
  ::umount2((root_ / "a/mnt").c_str(), MNT_DETACH);
  EXPECT_TRUE(absl::IsPermissionDenied(through_dir)) << through_dir;
  EXPECT_TRUE(absl::IsPermissionDenied(file_mount)) << file_mount;
  EXPECT_TRUE(absl::IsPermissionDenied(file_mount_crossing)) << file_mount_crossing;
  EXPECT_THAT(file_mount.message(), HasSubstr("mount point"));
}

// With mounts crossed (--cross-filesystems), a bind mount of a directory from
// outside the root is still refused: its files live outside. A filesystem
// mounted only inside the root may be entered.
TEST_F(ConfinedFileTest, CrossingMountsStillRefusesBindMountsLeadingOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounts need root";
  fs::create_directories(root_ / "a" / "mnt");
  fs::create_directories(root_ / "a" / "own");
  ASSERT_EQ(::mount(outside_.c_str(), (root_ / "a/mnt").c_str(), nullptr, MS_BIND, nullptr), 0);
  const bool own_mounted =
      ::mount("offboard-test", (root_ / "a/own").c_str(), "tmpfs", 0, "size=64k") == 0;
  const int own_error = errno;
  if (own_mounted) temp_.WriteFile("root/a/own/file.csv", "bank data");
  WipeRoot root = OpenRoot();
  const absl::Status bound =
      root.OpenFile((root_ / "a/mnt/secret.csv").string(), O_RDWR, /*cross_mounts=*/true).status();
  const absl::Status parent =
      root.OpenParent((root_ / "a/mnt/secret.csv").string(), /*cross_mounts=*/true).status();
  absl::Status own = absl::OkStatus();
  if (own_mounted) {
    own =
        root.OpenFile((root_ / "a/own/file.csv").string(), O_RDWR, /*cross_mounts=*/true).status();
    ::umount2((root_ / "a/own").c_str(), MNT_DETACH);
  }
  ::umount2((root_ / "a/mnt").c_str(), MNT_DETACH);
  EXPECT_TRUE(absl::IsPermissionDenied(bound)) << bound;
  EXPECT_THAT(bound.message(), HasSubstr("bind mount"));
  EXPECT_TRUE(absl::IsPermissionDenied(parent)) << parent;
  ASSERT_TRUE(own_mounted) << "tmpfs mount failed: " << std::strerror(own_error);
  EXPECT_TRUE(own.ok()) << own;
}

TEST_F(ConfinedFileTest, OpenParentFindsTheDirectoryOfAMissingName) {
  WipeRoot root = OpenRoot();
  absl::StatusOr<ConfinedFile> parent = root.OpenParent((root_ / "a/b/gone.csv").string());
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_EQ(parent->name, "gone.csv");
  EXPECT_TRUE(S_ISDIR(parent->st.st_mode));
  EXPECT_TRUE(absl::IsPermissionDenied(root.OpenParent(root_.string()).status()));
}

TEST_F(ConfinedFileTest, FindRootPicksTheInnermost) {
  std::vector<WipeRoot> roots;
  roots.push_back(OpenRoot());
  roots.push_back(*WipeRoot::Open(root_ / "a"));
  const WipeRoot* found = FindRoot(roots, (root_ / "a/b/file.csv").string());
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->path(), (root_ / "a").string());
  EXPECT_EQ(FindRoot(roots, (outside_ / "secret.csv").string()), nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(WipeRoot::Open("relative/path").status()));
}

}  // namespace
}  // namespace offboard::agent
