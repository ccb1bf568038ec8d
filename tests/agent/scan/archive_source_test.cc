#include "agent/scan/archive_source.h"

#include <gtest/gtest.h>

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/encoding/utf8.h"

namespace offboard::agent {
namespace {

bool PlainText(absl::string_view head) {
  return IsPlainTextHead(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(head.data()), head.size()));
}

TEST(IsPlainTextHeadTest, TextIsPlain) {
  EXPECT_TRUE(PlainText("id,name\r\nCUST-1,Zoë\tx\n"));
  EXPECT_TRUE(PlainText("{\"a\": 1}\n"));
  EXPECT_TRUE(PlainText(""));
  EXPECT_TRUE(PlainText("0123456789abcdef~ tilde and space, then UTF-8: \xc3\xa9t\xc3\xa9\n"));
  // Conservative: any line starting with "begin" goes to the archive reader,
  // which decides whether it really is uuencode.
  EXPECT_FALSE(PlainText("a line\nbeginning of a sentence\n"));
}

TEST(IsPlainTextHeadTest, EveryContainerSignatureIsNot) {
  const std::string heads[] = {
      std::string("\x1f\x8b\x08\x00", 4),  // gzip
      std::string("\x1f\x9d\x90", 3),      // compress
      "BZh91AY&SY",                        // bzip2 (all ASCII)
      std::string("\xfd"
                  "7zXZ\x00",
                  6),                                          // xz
      std::string("\x28\xb5\x2f\xfd", 4),                      // zstd
      std::string("\x04\x22\x4d\x18", 4),                      // lz4
      std::string("PK\x03\x04", 4),                            // zip
      std::string("7z\xbc\xaf\x27\x1c", 6),                    // 7z
      std::string("Rar!\x1a\x07", 6),                          // rar
      "LZIP\x01",                                              // lzip
      "begin 644 data.csv\nM86)C\n",                           // uuencode
      "WARC/1.0\r\nWARC-Type: resource\r\n",                   // warc
      "!<arch>\ndata.csv/       0           ",                 // ar
      std::string("data.csv\0\0\0\0", 12),                     // tar header padding
      std::string("070701000000", 12) + std::string(1, '\0'),  // cpio newc name end
      "valid start then \xc3",                                 // cut inside a UTF-8 sequence
      "bell\x07",                                              // a control character
  };
  for (const std::string& head : heads) EXPECT_FALSE(PlainText(head)) << head;
}

// The check runs in blocks of 64 bytes plus a tail: what it looks for must be
// found at every offset, across block boundaries too.
TEST(IsPlainTextHeadTest, FindsWhatItRefusesAtEveryOffset) {
  const std::string filler(300, 'x');
  for (size_t at = 1; at < 200; ++at) {
    std::string text = filler;
    EXPECT_TRUE(PlainText(text));
    text = filler;
    text.replace(at, 6, "\nbegin");
    EXPECT_FALSE(PlainText(text)) << "\\nbegin at " << at;
    text = filler;
    text.replace(at, 6, "\nbegun");  // a line starting "beg..." that is not "begin"
    EXPECT_TRUE(PlainText(text)) << at;
    text = filler;
    text[at] = '\x05';  // as in zip's end-of-central-directory "PK\x05\x06"
    EXPECT_FALSE(PlainText(text)) << "control at " << at;
    text[at] = '\x7f';
    EXPECT_FALSE(PlainText(text)) << "DEL at " << at;
    text[at] = '\r';
    EXPECT_TRUE(PlainText(text)) << at;
    text.replace(at, 2, "\xc3\xa9");  // UTF-8 é
    EXPECT_TRUE(PlainText(text)) << at;
    text.replace(at, 2, "\xc3x");  // a lead byte without its continuation
    EXPECT_FALSE(PlainText(text)) << "broken UTF-8 at " << at;
  }
  // "\nbegin" cut by the end of the head.
  EXPECT_FALSE(PlainText(filler + "\nbegin"));
  EXPECT_TRUE(PlainText(filler + "\nb"));
}

// The rules of IsPlainTextHead, one byte at a time.
bool PlainTextByTheRules(absl::string_view head) {
  for (const absl::string_view signature : {"WARC/", "!<arch>", "BZh", "begin"}) {
    if (absl::StartsWith(head, signature)) return false;
  }
  for (const char c : head) {
    const auto byte = static_cast<uint8_t>(c);
    if ((byte < 0x20 && (byte < 9 || byte > 13)) || byte == 0x7f) return false;
  }
  return !absl::StrContains(head, "\nbegin") && common::IsValidUtf8(head);
}

// Mostly plain bytes with a few of those that matter, at random places and
// lengths: the vector steps and the tail agree with the rules everywhere.
TEST(IsPlainTextHeadTest, AgreesWithTheRulesOnRandomHeads) {
  const std::string special[] = {"\n",   "b",    "\nbegin", "\x05", "\x7f",
                                 "\t",   "\r",   "\x1f",    "\x80", "\xc3\xa9",
                                 "\xc3", "\x08", "\x0e",    "\x0d", "\xff"};
  std::mt19937 random(20261127);
  int plain = 0;
  for (int round = 0; round < 20000; ++round) {
    const size_t length = random() % 300;
    std::string head;
    while (head.size() < length) {
      head += random() % 40 == 0 ? special[random() % std::size(special)] : std::string(1, 'x');
    }
    ASSERT_EQ(PlainText(head), PlainTextByTheRules(head)) << absl::CEscape(head);
    plain += PlainTextByTheRules(head) ? 1 : 0;
  }
  // Both outcomes were met often.
  EXPECT_GT(plain, 2000);
  EXPECT_LT(plain, 18000);
}

}  // namespace
}  // namespace offboard::agent
