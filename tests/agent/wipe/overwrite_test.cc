// Tests of single overwrite passes: the patterns, their regeneration for
// verification, sparse files, and verification catching what did not land.
#include "agent/wipe/overwrite.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/io/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

using common::UniqueFd;

offboard::v1::OverwritePass Pass(offboard::v1::PassPattern pattern, uint32_t byte = 0) {
  offboard::v1::OverwritePass pass;
  pass.set_pattern(pattern);
  pass.set_byte(byte);
  return pass;
}

std::string ReadAll(int fd) {
  std::string data;
  char buffer[65536];
  off_t offset = 0;
  while (true) {
    const ssize_t got = ::pread(fd, buffer, sizeof(buffer), offset);
    if (got <= 0) break;
    data.append(buffer, static_cast<size_t>(got));
    offset += got;
  }
  return data;
}

TEST(PatternStreamTest, ConstantPatternsAndTheirNames) {
  std::vector<uint8_t> out(100);
  auto zeros = PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_ZEROS));
  ASSERT_TRUE(zeros.ok());
  zeros->Fill(0, out);
  EXPECT_EQ(out, std::vector<uint8_t>(100, 0x00));
  EXPECT_EQ(zeros->name(), "zeros");
  auto ones = PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_ONES));
  ones->Fill(0, out);
  EXPECT_EQ(out, std::vector<uint8_t>(100, 0xFF));
  auto byte = PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_BYTE, 0x55));
  byte->Fill(7, out);
  EXPECT_EQ(out, std::vector<uint8_t>(100, 0x55));
  EXPECT_EQ(byte->name(), "byte 0x55");
  EXPECT_FALSE(PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_BYTE, 256)).ok());
  EXPECT_FALSE(PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_UNSPECIFIED)).ok());
}

TEST(PatternStreamTest, RandomStreamIsRegenerableAtAnyOffsetAndFreshPerPass) {
  auto random = PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_RANDOM));
  ASSERT_TRUE(random.ok());
  std::vector<uint8_t> whole(4096);
  random->Fill(0, whole);
  // Any piece, aligned or not, equals the same bytes of the whole stream.
  for (uint64_t offset : {0u, 16u, 17u, 1000u, 4000u}) {
    std::vector<uint8_t> piece(96);
    random->Fill(offset, piece);
    EXPECT_TRUE(std::equal(piece.begin(), piece.end(), whole.begin() + offset)) << offset;
  }
  // Not constant, and a second pass gets a key of its own.
  EXPECT_NE(std::count(whole.begin(), whole.end(), whole[0]), 4096);
  auto other = PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_RANDOM));
  std::vector<uint8_t> second(4096);
  other->Fill(0, second);
  EXPECT_NE(whole, second);
}

TEST(AllocatedExtentsTest, RoundsOutToBlocksAndSkipsHoles) {
  testing::TempDir temp;
  const auto path = temp.path() / "sparse";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::pwrite(fd.get(), "abc", 3, 0), 3);
  ASSERT_EQ(::pwrite(fd.get(), "xyz", 3, 1 << 20), 3);
  ASSERT_EQ(::fsync(fd.get()), 0);
  auto extents = AllocatedExtents(fd.get(), (1 << 20) + 3, 4096);
  ASSERT_TRUE(extents.ok()) << extents.status();
  uint64_t total = 0;
  for (const Extent& extent : *extents) {
    EXPECT_EQ(extent.offset % 4096, 0u);
    EXPECT_EQ(extent.length % 4096, 0u);
    total += extent.length;
  }
  // Where the filesystem reports holes, only the two data blocks are covered;
  // either way both ends are.
  EXPECT_EQ(extents->front().offset, 0u);
  EXPECT_EQ(extents->back().offset + extents->back().length, (1u << 20) + 4096);
  EXPECT_TRUE(total == 2 * 4096 || total == (1u << 20) + 4096) << total;
}

TEST(WritePassTest, OverwritesEveryByteIncludingTheLastBlocksTailAndVerifies) {
  testing::TempDir temp;
  const std::string original(10000, 'B');
  const auto path = temp.WriteFile("data.csv", original);
  UniqueFd fd(::open(path.c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  auto extents = AllocatedExtents(fd.get(), original.size(), 4096);
  ASSERT_TRUE(extents.ok());
  for (auto pattern : {offboard::v1::PASS_PATTERN_ZEROS, offboard::v1::PASS_PATTERN_RANDOM}) {
    auto stream = PatternStream::ForPass(Pass(pattern));
    ASSERT_TRUE(stream.ok());
    ASSERT_TRUE(WritePass(fd.get(), *extents, *stream, "data.csv").ok());
    auto method = VerifyPass(fd.get(), *extents, *stream, "data.csv");
    ASSERT_TRUE(method.ok()) << method.status();
    const std::string now = ReadAll(fd.get());
    EXPECT_EQ(now.size(), 3u * 4096);  // rounded up to whole blocks
    if (pattern == offboard::v1::PASS_PATTERN_ZEROS) {
      EXPECT_EQ(now, std::string(3 * 4096, '\0'));
    } else {
      EXPECT_LT(std::count(now.begin(), now.end(), 'B'), 200);  // ~48 expected by chance
    }
  }
}

TEST(VerifyPassTest, ReportsTheFirstByteThatDidNotLand) {
  testing::TempDir temp;
  const auto path = temp.WriteFile("data.csv", std::string(8192, 'B'));
  UniqueFd fd(::open(path.c_str(), O_RDWR));
  auto extents = AllocatedExtents(fd.get(), 8192, 4096);
  auto stream = PatternStream::ForPass(Pass(offboard::v1::PASS_PATTERN_RANDOM));
  ASSERT_TRUE(WritePass(fd.get(), *extents, *stream, "data.csv").ok());
  // Someone writes behind the wipe's back.
  ASSERT_EQ(::pwrite(fd.get(), "B", 1, 5000), 1);
  ASSERT_EQ(::fsync(fd.get()), 0);
  const absl::StatusOr<VerifyMethod> method = VerifyPass(fd.get(), *extents, *stream, "data.csv");
  ASSERT_FALSE(method.ok());
  EXPECT_TRUE(absl::IsDataLoss(method.status()));
  EXPECT_THAT(method.status().message(), ::testing::HasSubstr("offset 5000"));
}

TEST(VerifyPassTest, CatchesADifferenceAnywhereInALargeFile) {
  // Larger than two chunks, so the keystream and read-ahead threads are used.
  testing::TempDir temp;
  const uint64_t size = (34u << 20) + 123;
  const auto path = temp.WriteFile("big.csv", std::string(size, 'B'));
  UniqueFd fd(::open(path.c_str(), O_RDWR));
  auto extents = AllocatedExtents(fd.get(), size, 4096);
  for (auto pattern : {offboard::v1::PASS_PATTERN_RANDOM, offboard::v1::PASS_PATTERN_ONES}) {
    auto stream = PatternStream::ForPass(Pass(pattern));
    ASSERT_TRUE(WritePass(fd.get(), *extents, *stream, "big.csv").ok());
    ASSERT_TRUE(VerifyPass(fd.get(), *extents, *stream, "big.csv").ok());
    const uint64_t at = (33u << 20) + 7;
    char byte = 0;
    ASSERT_EQ(::pread(fd.get(), &byte, 1, static_cast<off_t>(at)), 1);
    byte = static_cast<char>(byte ^ 0x01);
    ASSERT_EQ(::pwrite(fd.get(), &byte, 1, static_cast<off_t>(at)), 1);
    ASSERT_EQ(::fsync(fd.get()), 0);
    const auto method = VerifyPass(fd.get(), *extents, *stream, "big.csv");
    ASSERT_TRUE(absl::IsDataLoss(method.status())) << method.status();
    EXPECT_THAT(method.status().message(), ::testing::HasSubstr("offset " + std::to_string(at)));
  }
}

}  // namespace
}  // namespace offboard::agent
