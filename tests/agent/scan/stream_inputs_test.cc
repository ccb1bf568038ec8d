// MemberInput and FileInput: the data of a member or a file as one stream, and its head.
#include "agent/scan/stream_inputs.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

// A ustar archive in memory holding `data` as member "m.bin".
std::string TarOf(const std::string& data) {
  std::string out(data.size() + 4096, '\0');
  size_t used = 0;
  archive* w = archive_write_new();
  archive_write_set_format_ustar(w);
  archive_write_set_bytes_in_last_block(w, 1);
  EXPECT_EQ(archive_write_open_memory(w, out.data(), out.size(), &used), ARCHIVE_OK);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "m.bin");
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_size(entry, static_cast<la_int64_t>(data.size()));
  EXPECT_EQ(archive_write_header(w, entry), ARCHIVE_OK);
  EXPECT_EQ(archive_write_data(w, data.data(), data.size()), static_cast<la_ssize_t>(data.size()));
  archive_entry_free(entry);
  archive_write_close(w);
  archive_write_free(w);
  out.resize(used);
  return out;
}

std::string Text(std::span<const uint8_t> bytes) { return std::string(bytes.begin(), bytes.end()); }

// Everything the reader gets from `input` from here on.
std::string RestOf(ArchiveInput& input) {
  std::string out;
  for (;;) {
    absl::StatusOr<std::span<const uint8_t>> chunk = input.Next();
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok() || chunk->empty()) return out;
    out += Text(*chunk);
  }
}

// What an input reports to: the file being examined and a digest.
class InputTest : public ::testing::Test {
 protected:
  ExaminationLimits limits_;
  std::string path_ = "examined";
  std::vector<ScanError> errors_;
  ScanStats stats_;
  FileState file_{limits_, path_, errors_, stats_};
  StreamDigest digest_{nullptr};
};

class MemberInputTest : public InputTest {
 protected:
  // Opens a tar of `data` (its first `cut` bytes, when given) and stands on
  // its member; chunks of 100 bytes.
  MemberInput& Open(const std::string& data, size_t cut = std::string::npos) {
    tar_ = TarOf(data).substr(0, cut);
    reader_.reset(archive_read_new());
    archive_read_support_format_tar(reader_.get());
    EXPECT_EQ(archive_read_open_memory(reader_.get(), tar_.data(), tar_.size()), ARCHIVE_OK);
    archive_entry* entry = nullptr;
    EXPECT_EQ(archive_read_next_header(reader_.get(), &entry), ARCHIVE_OK);
    input_ = std::make_unique<MemberInput>(reader_.get(), file_, digest_,
                                           std::vector<std::string>{"m.bin"}, buffer_);
    return *input_;
  }
  std::string Rest(MemberInput& input) { return RestOf(input); }

  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(100);
  std::string tar_;
  std::unique_ptr<archive, ArchiveFree> reader_;
  std::unique_ptr<MemberInput> input_;
};

std::string Pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return out;
}

// The head reads past what the reader took so far; the reader then gets
// those bytes, in order, before the rest, and the digest sees each once.
TEST_F(MemberInputTest, HeadReadsAheadOfTheReaderWhoStillGetsEveryByteInOrder) {
  const std::string data = Pattern(5000);
  MemberInput& input = Open(data);
  input.StartCapture();
  std::string got = Text(*input.Next());
  got += Text(*input.Next());
  ASSERT_EQ(got.size(), 200u);
  const StreamHead head = input.Head(1000);
  EXPECT_EQ(Text(head.bytes), data.substr(0, 1000));
  EXPECT_FALSE(head.whole);
  got += Rest(input);
  EXPECT_EQ(got, data);
  EXPECT_EQ(digest_.size(), data.size());
  EXPECT_TRUE(errors_.empty());
}

// Asked for more than the member holds, the head is the whole member.
TEST_F(MemberInputTest, HeadOfASmallMemberIsWhole) {
  const std::string data = Pattern(250);
  MemberInput& input = Open(data);
  input.StartCapture();
  std::string got = Text(*input.Next());
  const StreamHead head = input.Head(65536);
  EXPECT_EQ(Text(head.bytes), data);
  EXPECT_TRUE(head.whole);
  got += Rest(input);
  EXPECT_EQ(got, data);
  EXPECT_EQ(digest_.size(), data.size());
}

// Rewind after a look ahead still serves the member from its start.
TEST_F(MemberInputTest, RewindAfterTheHeadServesTheMemberFromItsStart) {
  const std::string data = Pattern(3000);
  MemberInput& input = Open(data);
  input.StartCapture();
  (void)input.Next();
  (void)input.Head(700);
  ASSERT_TRUE(input.Rewind());
  EXPECT_EQ(Rest(input), data);
  EXPECT_EQ(digest_.size(), data.size());
}

// The archive fails while the head reads ahead: the reader still gets every
// byte read before the failure, then the error.
TEST_F(MemberInputTest, AnErrorWhileReadingAheadComesAfterTheBytesReadBeforeIt) {
  const std::string data = Pattern(5000);
  MemberInput& input = Open(data, 512 + 3000);  // the header, then 3,000 bytes
  input.StartCapture();
  std::string got = Text(*input.Next());
  const StreamHead head = input.Head(4000);
  EXPECT_FALSE(head.whole);
  EXPECT_TRUE(input.failed());
  for (;;) {
    absl::StatusOr<std::span<const uint8_t>> chunk = input.Next();
    if (!chunk.ok()) break;
    ASSERT_FALSE(chunk->empty()) << "the member cannot end cleanly";
    got += Text(*chunk);
  }
  EXPECT_GE(got.size(), 2900u);
  EXPECT_EQ(got, data.substr(0, got.size()));
  EXPECT_EQ(digest_.size(), got.size());
}

// Without a capture there is no head to give.
TEST_F(MemberInputTest, NoHeadWithoutACapture) {
  MemberInput& input = Open(Pattern(300));
  (void)input.Next();
  EXPECT_TRUE(input.Head(1000).bytes.empty());
}

// FileInput's head comes from its first read when it can. Asked before
// anything was read, the head is read where Next then serves it from; the
// digest and the reader still see every byte once, in order, and a head
// larger than the first read, or asked after a seek, is read apart.
class FileInputTest : public InputTest {
 protected:
  FileInput& Open(const std::string& data) {
    file_path_ = dir_.WriteFile("f.bin", data).string();
    fd_ = ::open(file_path_.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd_, 0);
    input_ = std::make_unique<FileInput>(fd_, data.size(), file_, digest_,
                                         /*read_through_skips=*/false, buffer_);
    return *input_;
  }
  std::string Rest(FileInput& input) { return RestOf(input); }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
  }

  offboard::testing::TempDir dir_;
  std::string file_path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(1 << 20);
  std::unique_ptr<FileInput> input_;
};

TEST_F(FileInputTest, HeadBeforeTheFirstReadIsServedToTheReaderOnce) {
  const std::string data = Pattern(200000);
  FileInput& input = Open(data);
  StreamHead head = input.Head(4);
  EXPECT_EQ(Text(head.bytes), data.substr(0, 4));
  EXPECT_FALSE(head.whole);
  head = input.Head(65608);  // more than the first read holds: read apart
  EXPECT_EQ(Text(head.bytes), data.substr(0, 65608));
  EXPECT_EQ(Rest(input), data);
  EXPECT_EQ(digest_.size(), data.size());
  EXPECT_EQ(stats_.bytes_read, data.size());
  EXPECT_TRUE(input.hashed_to_end());
}

TEST_F(FileInputTest, HeadAfterReadsAndSeeksIsTheFileStart) {
  const std::string data = Pattern(300000);
  FileInput& input = Open(data);
  std::string got = Text(*input.Next());
  EXPECT_EQ(Text(input.Head(1000).bytes), data.substr(0, 1000));  // from the buffer
  got += Rest(input);
  EXPECT_EQ(got, data);
  ASSERT_EQ(input.Seek(100000, SEEK_SET), 100000);
  const std::string middle = Text(*input.Next());
  EXPECT_EQ(middle, data.substr(100000, middle.size()));
  EXPECT_EQ(Text(input.Head(1000).bytes), data.substr(0, 1000));  // read apart
  EXPECT_EQ(digest_.size(), data.size());
}

TEST_F(FileInputTest, HeadOfASmallFileIsWhole) {
  const std::string data = Pattern(300);
  FileInput& input = Open(data);
  const StreamHead head = input.Head(65608);
  EXPECT_EQ(Text(head.bytes), data);
  EXPECT_TRUE(head.whole);
  EXPECT_EQ(Rest(input), data);
  EXPECT_EQ(digest_.size(), data.size());
}

}  // namespace
}  // namespace offboard::agent
