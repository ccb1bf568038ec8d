#include "common/encoding/hex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace offboard::common {
namespace {

TEST(HexTest, EncodesLowercase) {
  EXPECT_EQ(HexEncode(absl::string_view("\x00\xab\xff", 3)), "00abff");
  EXPECT_EQ(HexEncode(absl::string_view()), "");
}

TEST(HexTest, DecodesEitherCase) {
  EXPECT_EQ(*HexDecode("00aBfF"), (std::vector<uint8_t>{0x00, 0xab, 0xff}));
}

TEST(HexTest, RejectsOddLengthAndBadCharactersWithPosition) {
  EXPECT_THAT(HexDecode("abc").status().message(), ::testing::HasSubstr("odd length 3"));
  EXPECT_THAT(HexDecode("0g").status().message(), ::testing::HasSubstr("position 1"));
}

TEST(HexTest, IsLowerHexChecksLengthAndCase) {
  EXPECT_TRUE(IsLowerHex("00ff", 2));
  EXPECT_FALSE(IsLowerHex("00FF", 2));
  EXPECT_FALSE(IsLowerHex("00f", 2));
  EXPECT_FALSE(IsLowerHex("00fff0", 2));
}

}  // namespace
}  // namespace offboard::common
