#include "common/crypto/sha256.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/support/temp_dir.h"

namespace offboard::common {
namespace {

// FIPS 180-2 examples.
constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kMillionA[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(DigestHex(Sha256Of(absl::string_view())), kEmpty);
  EXPECT_EQ(DigestHex(Sha256Of(absl::string_view("abc"))), kAbc);
  EXPECT_EQ(DigestHex(Sha256Of(std::string(1000000, 'a'))), kMillionA);
}

TEST(Sha256Test, StreamingEqualsOneShotAndResets) {
  Sha256 hasher;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) hasher.Update(chunk);
  EXPECT_EQ(DigestHex(hasher.Finish()), kMillionA);
  hasher.Update(absl::string_view("abc"));
  EXPECT_EQ(DigestHex(hasher.Finish()), kAbc);
}

TEST(Sha256Test, HashesFilesLargerThanOneReadChunk) {
  offboard::testing::TempDir dir;
  const std::string contents(3 * 1024 * 1024 + 17, 'a');
  const auto path = dir.WriteFile("big.bin", contents);
  const absl::StatusOr<Sha256Digest> digest = Sha256File(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Of(contents));

  const int fd = ::open(path.c_str(), O_RDONLY);
  uint64_t bytes = 0;
  EXPECT_EQ(*Sha256Fd(fd, &bytes), Sha256Of(contents));
  EXPECT_EQ(bytes, contents.size());
  ::close(fd);
}

TEST(Sha256Test, MissingFileIsNotFoundNamingThePath) {
  offboard::testing::TempDir dir;
  const absl::StatusOr<Sha256Digest> digest = Sha256File(dir.path() / "absent");
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(digest.status().message().find("absent"), absl::string_view::npos);
}

TEST(Sha256Test, DirectoryIsAnErrorNotADigest) {
  offboard::testing::TempDir dir;
  EXPECT_FALSE(Sha256File(dir.path()).ok());
}

}  // namespace
}  // namespace offboard::common
