#include "agent/scan/archive_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

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

// A stream served in chunks of `chunk` bytes from one buffer, which each
// Next reads over, as the scan's inputs do.
class ChunkedInput final : public ArchiveInput {
 public:
  ChunkedInput(std::string data, size_t chunk) : data_(std::move(data)), buffer_(chunk) {}

  absl::StatusOr<std::span<const uint8_t>> Next() override {
    const size_t n = std::min(buffer_.size(), data_.size() - position_);
    std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(position_), n, buffer_.begin());
    position_ += n;
    return std::span<const uint8_t>(buffer_.data(), n);
  }
  bool failed() const override { return false; }
  // What the input's owner does after the reader: reads the rest.
  void Drain() {
    for (;;) {
      const absl::StatusOr<std::span<const uint8_t>> chunk = Next();
      if (chunk->empty()) return;
      CheckAfterEnd(*chunk);
    }
  }

 private:
  std::string data_;
  std::vector<uint8_t> buffer_;
  size_t position_ = 0;
};

// A pax tar holding `name` with `content`, as written by libarchive.
std::string TarOf(const std::string& name, const std::string& content) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 0);  // no padding to a 10 KiB block
  std::vector<char> out(1 << 20);
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, name.c_str());
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_size(entry, static_cast<la_int64_t>(content.size()));
  EXPECT_EQ(archive_write_header(a, entry), ARCHIVE_OK);
  EXPECT_EQ(archive_write_data(a, content.data(), content.size()),
            static_cast<la_ssize_t>(content.size()));
  archive_entry_free(entry);
  archive_write_close(a);
  archive_write_free(a);
  return std::string(out.data(), used);
}

// Reads `data` as an archive to its end in chunks of `chunk` bytes, then
// the rest as an input's owner would; where data after the end was found.
std::optional<uint64_t> DataAfterEnd(const std::string& data, size_t chunk) {
  ChunkedInput input(data, chunk);
  absl::StatusOr<ArchiveReader> reader = OpenArchiveReader(input);
  EXPECT_TRUE(reader.ok()) << reader.status();
  archive_entry* entry = nullptr;
  int r;
  while ((r = archive_read_next_header(reader->get(), &entry)) == ARCHIVE_OK) {
  }
  EXPECT_EQ(r, ARCHIVE_EOF) << archive_error_string(reader->get());
  input.ExpectZerosAfterEnd(reader->get(), "tar");
  input.Drain();
  return input.data_after_end();
}

// Whatever the chunks, libarchive's read-ahead included: the first byte
// after the end that is not zero, wherever it is, and no false alarm.
TEST(DataAfterEndTest, FoundExactlyWhateverTheChunkSize) {
  const std::string first = TarOf("a.csv", std::string(1000, 'a'));
  const std::string second = TarOf("b.csv", std::string(300, 'b'));
  const std::string padding(20000, '\0');
  for (const size_t chunk : {1, 7, 100, 511, 512, 513, 1024, 4096, 5000, 100000}) {
    SCOPED_TRACE(chunk);
    EXPECT_EQ(DataAfterEnd(first + second, chunk), first.size());
    EXPECT_EQ(DataAfterEnd(first, chunk), std::nullopt);
    EXPECT_EQ(DataAfterEnd(first + padding, chunk), std::nullopt);
    EXPECT_EQ(DataAfterEnd(first + padding + "x", chunk), first.size() + padding.size());
    // One zero block only, then data: the reader looks at that block too.
    const std::string one_block = first.substr(0, first.size() - 512) + "y";
    EXPECT_EQ(DataAfterEnd(one_block, chunk), first.size() - 512);
    EXPECT_EQ(DataAfterEnd(first + padding.substr(0, 700) + "z" + padding, chunk),
              first.size() + 700);
  }
}

}  // namespace
}  // namespace offboard::agent
