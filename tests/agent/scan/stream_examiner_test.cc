#include "agent/scan/stream_examiner.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/scan/byte_source.h"
#include "common/crypto/sha256.h"
#include "common/inventory/fingerprint_set.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using Chain = std::vector<std::string>;

// What a test compares of a StreamResult.
struct Seen {
  Chain member;
  std::string sha256;  // empty unless hashed
  uint64_t size = 0;
  bool hashed = false;
  bool is_archive = false;
  bool operator==(const Seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{[" << absl::StrJoin(s.member, " | ") << "] sha=" << s.sha256 << " size=" << s.size
            << (s.hashed ? " hashed" : "") << (s.is_archive ? " archive" : "") << "}";
}

std::string Hex(absl::string_view content) { return common::DigestHex(common::Sha256Of(content)); }

// A member (or file) whose whole content is `content`, not an archive.
Seen Content(Chain member, const std::string& content) {
  return {std::move(member), Hex(content), content.size(), true, false};
}

// Deterministic CSV of `rows` rows, different for each seed.
std::string Csv(int rows, uint32_t seed) {
  std::string csv = "id,customer,amount\n";
  uint32_t x = seed * 2654435761u + 1;
  for (int i = 0; i < rows; ++i) {
    x = x * 1664525u + 1013904223u;
    absl::StrAppend(&csv, i, ",CUST-", x % 100000000, ",", (x >> 8) % 100000, ".", x % 100, "\n");
  }
  return csv;
}

auto ErrorAt(const std::string& path, Chain member, const std::string& reason_part) {
  return AllOf(Field(&ScanError::path, path), Field(&ScanError::member, member),
               Field(&ScanError::reason, HasSubstr(reason_part)));
}

class StreamExaminerTest : public ::testing::Test {
 protected:
  struct Outcome {
    std::vector<Seen> streams;
    std::vector<ScanError> errors;
    ScanStats stats;
    std::vector<std::pair<Chain, std::vector<DerivedMatch>>> derived;  // non-empty ones
  };

  // Runs `command` with /bin/sh in the temporary directory.
  void Sh(const std::string& command) {
    const std::string full = "cd '" + dir_.path().string() + "' && " + command;
    ASSERT_EQ(std::system(full.c_str()), 0) << command;
  }
  // `name` in the temporary directory, or `name` itself when absolute.
  std::string Path(const std::string& name) const {
    return name.starts_with('/') ? name : (dir_.path() / name).string();
  }
  std::string Write(const std::string& name, const std::string& content) {
    return dir_.WriteFile(name, content).string();
  }
  std::string Read(const std::string& name) const {
    std::ifstream in(Path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // The archive file `name` on disk, as an examined stream.
  Seen ArchiveFile(const std::string& name, Chain member = {}) const {
    const std::string bytes = Read(name);
    return {std::move(member), Hex(bytes), bytes.size(), true, true};
  }

  Outcome Examine(const std::string& name, bool hash_file = true, ExaminationLimits limits = {},
                  const FingerprintIndex* fingerprints = nullptr);

  // Each of `files` (name, bytes) is content, not an archive: no error, no
  // archive opened, the bytes hashed whole; as a file, and as a member of
  // blobs.tar.
  void ExpectContent(const std::vector<std::pair<std::string, std::string>>& files) {
    std::string names;
    std::vector<Seen> members;
    for (const auto& [name, bytes] : files) {
      Write(name, bytes);
      const Outcome out = Examine(name);
      EXPECT_EQ(out.streams, std::vector<Seen>{Content({}, bytes)}) << name;
      EXPECT_THAT(out.errors, IsEmpty()) << name;
      EXPECT_EQ(out.stats.archives_opened, 0u) << name;
      absl::StrAppend(&names, " ", name);
      members.push_back(Content({name}, bytes));
    }
    Sh("bsdtar -cf blobs.tar" + names);
    members.push_back(ArchiveFile("blobs.tar"));
    const Outcome out = Examine("blobs.tar");
    EXPECT_EQ(out.streams, members);
    EXPECT_THAT(out.errors, IsEmpty());
  }

  offboard::testing::TempDir dir_;
};

StreamExaminerTest::Outcome StreamExaminerTest::Examine(const std::string& name, bool hash_file,
                                                        ExaminationLimits limits,
                                                        const FingerprintIndex* fingerprints) {
  Outcome out;
  const std::string path = Path(name);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  struct stat st {};
  ::fstat(fd, &st);
  StreamExaminer examiner(limits, fingerprints);
  examiner.ExamineFile(
      fd, path, static_cast<uint64_t>(st.st_size), hash_file,
      [&](const StreamResult& r) {
        out.streams.push_back({r.member, r.hashed ? common::DigestHex(r.sha256) : "", r.size,
                               r.hashed, r.is_archive});
        if (!r.derived.empty()) out.derived.emplace_back(r.member, r.derived);
      },
      out.errors, out.stats);
  ::close(fd);
  return out;
}

TEST_F(StreamExaminerTest, PlainFileIsHashedWhenAsked) {
  const std::string text = Csv(5000, 1);
  Write("plain.csv", text);
  const Outcome out = Examine("plain.csv");
  EXPECT_THAT(out.streams, ElementsAre(Content({}, text)));
  EXPECT_THAT(out.errors, IsEmpty());
  EXPECT_EQ(out.stats.archives_opened, 0u);
  EXPECT_EQ(out.stats.members_examined, 0u);
}

TEST_F(StreamExaminerTest, EmptyFileIsPlainEmptyContent) {
  Write("empty", "");
  const Outcome out = Examine("empty");
  EXPECT_THAT(out.streams, ElementsAre(Content({}, "")));
  EXPECT_THAT(out.errors, IsEmpty());
}

TEST_F(StreamExaminerTest, PlainFileNotAskedForIsNotReadWhole) {
  std::string bytes = "not an archive\n";
  uint32_t x = 7;
  while (bytes.size() < (16u << 20)) {
    x = x * 1664525u + 1013904223u;
    bytes.push_back(static_cast<char>(x >> 24));
  }
  Write("big.bin", bytes);
  const Outcome quick = Examine("big.bin", /*hash_file=*/false);
  EXPECT_THAT(quick.streams, ElementsAre(Seen{{}, "", bytes.size(), false, false}));
  EXPECT_THAT(quick.errors, IsEmpty());
  EXPECT_LT(quick.stats.bytes_read, 1u << 20);

  const Outcome whole = Examine("big.bin", /*hash_file=*/true);
  EXPECT_THAT(whole.streams, ElementsAre(Content({}, bytes)));
  EXPECT_GE(whole.stats.bytes_read, bytes.size());
}

TEST_F(StreamExaminerTest, DecoyOfTheSameSizeHasAnotherHash) {
  const std::string real = Csv(3000, 2);
  std::string decoy = real;
  decoy[decoy.size() / 2] ^= 1;
  Write("real.csv", real);
  Write("decoy.csv", decoy);
  Sh("bsdtar -czf both.tar.gz real.csv decoy.csv");
  const Outcome out = Examine("both.tar.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"real.csv"}, real), Content({"decoy.csv"}, decoy),
                                       ArchiveFile("both.tar.gz")));
  EXPECT_NE(Hex(real), Hex(decoy));
  EXPECT_EQ(Examine("decoy.csv").streams, std::vector<Seen>{Content({}, decoy)});
}

struct FormatCase {
  const char* name;
  const char* command;  // run in the temporary directory; sources in src/
  const char* archive;
};

class ArchiveFormatTest : public StreamExaminerTest,
                          public ::testing::WithParamInterface<FormatCase> {};

TEST_P(ArchiveFormatTest, MembersAreHashedExactly) {
  const std::string a = Csv(4000, 3), b = Csv(10, 4);
  Write("src/a.csv", a);
  Write("src/sub/b.txt", b);
  Write("src/sub/empty.txt", "");
  Sh(GetParam().command);
  for (const bool hash_file : {true, false}) {
    Outcome out = Examine(GetParam().archive, hash_file);
    ASSERT_FALSE(out.streams.empty());
    Seen file = out.streams.back();
    EXPECT_EQ(file.member, Chain{});
    EXPECT_TRUE(file.is_archive);
    if (hash_file) {
      EXPECT_EQ(file, ArchiveFile(GetParam().archive));
    }
    out.streams.pop_back();
    EXPECT_THAT(out.streams, UnorderedElementsAre(Content({"a.csv"}, a), Content({"sub/b.txt"}, b),
                                                  Content({"sub/empty.txt"}, "")));
    EXPECT_THAT(out.errors, IsEmpty());
    EXPECT_EQ(out.stats.archives_opened, 1u);
    EXPECT_EQ(out.stats.members_examined, 3u);
    EXPECT_EQ(out.stats.bytes_decompressed, a.size() + b.size());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, ArchiveFormatTest,
    ::testing::Values(
        FormatCase{"tar", "bsdtar -cf x.tar -C src a.csv sub", "x.tar"},
        FormatCase{"tar_gz", "bsdtar -czf x.tar.gz -C src a.csv sub", "x.tar.gz"},
        FormatCase{"tar_bz2", "bsdtar -cjf x.tar.bz2 -C src a.csv sub", "x.tar.bz2"},
        FormatCase{"tar_xz", "bsdtar -cJf x.tar.xz -C src a.csv sub", "x.tar.xz"},
        FormatCase{"tar_zst", "bsdtar --zstd -cf x.tar.zst -C src a.csv sub", "x.tar.zst"},
        FormatCase{"zip", "cd src && zip -qr ../x.zip a.csv sub", "x.zip"},
        FormatCase{"zip_bsdtar", "bsdtar --format zip -cf x.zip -C src a.csv sub", "x.zip"},
        FormatCase{"seven_zip", "cd src && 7z a -bso0 -bsp0 ../x.7z a.csv sub", "x.7z"},
        FormatCase{"seven_zip_bsdtar", "bsdtar --format 7zip -cf x.7z -C src a.csv sub", "x.7z"},
        FormatCase{"cpio", "bsdtar --format cpio -cf x.cpio -C src a.csv sub", "x.cpio"},
        FormatCase{"cpio_newc_gz", "bsdtar --format newc -czf x.cpio.gz -C src a.csv sub",
                   "x.cpio.gz"},
        FormatCase{"iso9660", "bsdtar --format iso9660 -cf x.iso -C src a.csv sub", "x.iso"}),
    [](const ::testing::TestParamInfo<FormatCase>& param_info) { return param_info.param.name; });

struct CompressedCase {
  const char* command;
  const char* file;
  const char* member;
};

class CompressedFileTest : public StreamExaminerTest,
                           public ::testing::WithParamInterface<CompressedCase> {};

TEST_P(CompressedFileTest, SingleMemberNamedAfterTheFile) {
  const std::string data = Csv(6000, 5);
  Write("data.csv", data);
  Sh(GetParam().command);
  const Outcome out = Examine(GetParam().file);
  EXPECT_THAT(out.streams,
              ElementsAre(Content({GetParam().member}, data), ArchiveFile(GetParam().file)));
  EXPECT_THAT(out.errors, IsEmpty());
  EXPECT_EQ(out.stats.members_examined, 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Compressors, CompressedFileTest,
    ::testing::Values(CompressedCase{"gzip -k data.csv", "data.csv.gz", "data.csv"},
                      CompressedCase{"bzip2 -k data.csv", "data.csv.bz2", "data.csv"},
                      CompressedCase{"xz -k data.csv", "data.csv.xz", "data.csv"},
                      CompressedCase{"zstd -q data.csv", "data.csv.zst", "data.csv"},
                      CompressedCase{"lz4 -q data.csv data.csv.lz4", "data.csv.lz4", "data.csv"},
                      CompressedCase{"gzip -c data.csv > blob", "blob", "blob.decompressed"},
                      CompressedCase{"gzip -c data.csv | bzip2 > d.csv.gz.bz2", "d.csv.gz.bz2",
                                     "d.csv"}));

class NestedTest : public StreamExaminerTest {
 protected:
  // data.csv in inner.zip in outer.tar.gz in top.7z.
  void SetUp() override {
    data_ = Csv(3000, 6);
    Write("src/data.csv", data_);
    Sh("cd src && zip -q ../inner.zip data.csv && cd .. && bsdtar -czf outer.tar.gz inner.zip && "
       "7z a -bso0 -bsp0 top.7z outer.tar.gz");
  }
  std::string data_;
};

TEST_F(NestedTest, ZipInTarGzIn7zGivesTheWholeChain) {
  const Outcome out = Examine("top.7z");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"outer.tar.gz", "inner.zip", "data.csv"}, data_),
                          ArchiveFile("inner.zip", {"outer.tar.gz", "inner.zip"}),
                          ArchiveFile("outer.tar.gz", {"outer.tar.gz"}), ArchiveFile("top.7z")));
  EXPECT_THAT(out.errors, IsEmpty());
  EXPECT_EQ(out.stats.archives_opened, 3u);
  EXPECT_EQ(out.stats.members_examined, 3u);
}

TEST_F(NestedTest, SevenZipInsideAnotherArchiveIsReadFromMemory) {
  Sh("bsdtar -cf box.tar top.7z");
  const Outcome out = Examine("box.tar");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"top.7z", "outer.tar.gz", "inner.zip", "data.csv"}, data_),
                          ArchiveFile("inner.zip", {"top.7z", "outer.tar.gz", "inner.zip"}),
                          ArchiveFile("outer.tar.gz", {"top.7z", "outer.tar.gz"}),
                          ArchiveFile("top.7z", {"top.7z"}), ArchiveFile("box.tar")));
  EXPECT_THAT(out.errors, IsEmpty());
}

TEST_F(NestedTest, DepthLimitStillHashesTheMemberAndReportsIt) {
  ExaminationLimits limits;
  limits.max_depth = 1;
  Outcome out = Examine("top.7z", true, limits);
  Seen inner = ArchiveFile("inner.zip", {"outer.tar.gz", "inner.zip"});
  inner.is_archive = false;
  EXPECT_THAT(out.streams, ElementsAre(inner, ArchiveFile("outer.tar.gz", {"outer.tar.gz"}),
                                       ArchiveFile("top.7z")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("top.7z"), {"outer.tar.gz", "inner.zip"},
                                              "nested archive deeper than 1 levels")));

  limits.max_depth = 0;
  out = Examine("top.7z", true, limits);
  Seen outer = ArchiveFile("outer.tar.gz", {"outer.tar.gz"});
  outer.is_archive = false;
  EXPECT_THAT(out.streams, ElementsAre(outer, ArchiveFile("top.7z")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("top.7z"), {"outer.tar.gz"},
                                              "nested archive deeper than 0 levels")));
}

TEST_F(StreamExaminerTest, SevenZipTooLargeToBufferIsHashedAndReported) {
  Sh("head -c 65M /dev/urandom > noise && 7z a -bso0 -bsp0 -mx0 big.7z noise && "
     "bsdtar -cf box.tar big.7z");
  const Outcome out = Examine("box.tar");
  Seen big = ArchiveFile("big.7z", {"big.7z"});
  big.is_archive = false;
  EXPECT_THAT(out.streams, ElementsAre(big, ArchiveFile("box.tar")));
  EXPECT_THAT(out.errors,
              ElementsAre(ErrorAt(Path("box.tar"), {"big.7z"}, "in-memory limit of 64 MiB")));
}

TEST_F(StreamExaminerTest, ReadErrorIsReported) {
  Sh("mkdir not-a-file");
  const Outcome out = Examine("not-a-file");
  EXPECT_THAT(out.streams, ElementsAre(Seen{{}, "", out.streams.at(0).size, false, false}));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("not-a-file"), {}, "read: Is a directory")));
}

TEST_F(StreamExaminerTest, CorruptGzipIsAnErrorOnItsMember) {
  Write("data.csv", Csv(40000, 7));
  Sh("gzip -n data.csv");
  std::string bytes = Read("data.csv.gz");
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] ^= 0x5a;
  Write("data.csv.gz", bytes);
  const Outcome out = Examine("data.csv.gz");
  ASSERT_EQ(out.streams.size(), 2u);
  EXPECT_EQ(out.streams[0].member, Chain{"data.csv"});
  EXPECT_FALSE(out.streams[0].hashed);
  EXPECT_EQ(out.streams[1], ArchiveFile("data.csv.gz"));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("data.csv.gz"), {"data.csv"}, "gzip")));
}

TEST_F(StreamExaminerTest, TruncatedTarGzIsAnErrorOnTheCutMember) {
  const std::string small = Csv(100, 8);
  Write("small.csv", small);
  Write("big.csv", Csv(60000, 9));
  Sh("bsdtar -czf t.tar.gz small.csv big.csv");
  const std::string bytes = Read("t.tar.gz");
  Write("t.tar.gz", bytes.substr(0, bytes.size() / 2));
  const Outcome out = Examine("t.tar.gz");
  ASSERT_EQ(out.streams.size(), 3u);
  EXPECT_EQ(out.streams[0], Content({"small.csv"}, small));
  EXPECT_EQ(out.streams[1].member, Chain{"big.csv"});
  EXPECT_FALSE(out.streams[1].hashed);
  EXPECT_EQ(out.streams[2], ArchiveFile("t.tar.gz"));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("t.tar.gz"), {"big.csv"}, "runcated")));
}

// zlib's codes, which libarchive's zip reader gives bare, are told in words.
TEST_F(StreamExaminerTest, CutAndCorruptZipMembersAreErrorsInWords) {
  Write("big.csv", Csv(60000, 9));
  Sh("zip -q t.zip big.csv");
  const std::string bytes = Read("t.zip");
  Write("cut.zip", bytes.substr(0, bytes.size() / 2));
  EXPECT_THAT(Examine("cut.zip").errors,
              ElementsAre(ErrorAt(Path("cut.zip"), {"big.csv"},
                                  "ZIP decompression failed (-5): the compressed data ends early "
                                  "(archive cut short or damaged)")));
  // A deflate block of reserved type 3 (the first byte's bits 1-2) where the
  // data starts: after the local header's 30 bytes, the name and the extra
  // field (their lengths at offsets 26 and 28, little-endian).
  const auto u16 = [&](size_t at) {
    return static_cast<size_t>(static_cast<uint8_t>(bytes[at])) |
           static_cast<size_t>(static_cast<uint8_t>(bytes[at + 1])) << 8;
  };
  std::string corrupt = bytes;
  corrupt[30 + u16(26) + u16(28)] = static_cast<char>(0x07);
  Write("corrupt.zip", corrupt);
  EXPECT_THAT(Examine("corrupt.zip").errors,
              ElementsAre(ErrorAt(Path("corrupt.zip"), {"big.csv"},
                                  "ZIP decompression failed (-3): corrupt compressed data")));
}

TEST_F(StreamExaminerTest, EncryptedZipMembersAreErrors) {
  const std::string open_data = Csv(50, 10);
  Write("secret.csv", Csv(500, 11));
  Write("open.csv", open_data);
  Sh("zip -q -P secret enc.zip secret.csv && zip -q enc.zip open.csv");
  Sh("bsdtar --format zip --options zip:encryption=zipcrypt --passphrase x -cf enc2.zip "
     "secret.csv");
  Outcome out = Examine("enc.zip");
  EXPECT_THAT(out.streams, ElementsAre(Content({"open.csv"}, open_data), ArchiveFile("enc.zip")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("enc.zip"), {"secret.csv"}, "encrypted")));
  out = Examine("enc2.zip");
  EXPECT_THAT(out.streams, ElementsAre(ArchiveFile("enc2.zip")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("enc2.zip"), {"secret.csv"}, "encrypted")));
}

// 256 MiB of zeros in a 256 KiB zip, made once for the suite.
class ZipBombTest : public StreamExaminerTest {
 protected:
  static void SetUpTestSuite() {
    bomb_dir_ = new offboard::testing::TempDir;
    bomb_ = (bomb_dir_->path() / "bomb.zip").string();
    ASSERT_EQ(std::system(("head -c 256M /dev/zero | zip -q '" + bomb_ + "' -").c_str()), 0);
  }
  static void TearDownTestSuite() { delete bomb_dir_; }

  // Examines the bomb with `limits` and expects one error naming `limit`.
  void ExpectStopped(const ExaminationLimits& limits, const std::string& limit) {
    const auto start = std::chrono::steady_clock::now();
    const Outcome out = Examine(bomb_, true, limits);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_THAT(out.streams,
                ElementsAre(AllOf(Field(&Seen::member, Chain{"-"}), Field(&Seen::hashed, false)),
                            ArchiveFile(bomb_)));
    EXPECT_THAT(out.errors, ElementsAre(ErrorAt(bomb_, {"-"}, limit)));
    EXPECT_LT(out.stats.bytes_decompressed, 64u << 20);
  }

  static inline offboard::testing::TempDir* bomb_dir_ = nullptr;
  static inline std::string bomb_;
};

TEST_F(ZipBombTest, MemberSizeLimit) {
  ExaminationLimits limits;
  limits.max_member_bytes = 32 << 20;
  ExpectStopped(limits, "member size limit");
}

TEST_F(ZipBombTest, ArchiveSizeLimit) {
  ExaminationLimits limits;
  limits.max_archive_bytes = 32 << 20;
  ExpectStopped(limits, "archive size limit");
}

TEST_F(ZipBombTest, CompressionRatioLimit) {
  ExaminationLimits limits;
  limits.max_compression_ratio = 100;
  ExpectStopped(limits, "compression ratio limit");
}

TEST_F(StreamExaminerTest, TenGigabytesOfZerosStopAtTheDefaultRatioLimit) {
  Sh("head -c 64M /dev/zero | zstd -q -c > part.zst && "
     "for i in $(seq 160); do cat part.zst; done > zeros.csv.zst");
  const auto start = std::chrono::steady_clock::now();
  const Outcome out = Examine("zeros.csv.zst");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("zeros.csv.zst"), {"zeros.csv"},
                                              "compression ratio limit")));
  EXPECT_LT(out.stats.bytes_decompressed, 1u << 30);
}

// Disk images start with zero blocks, which libarchive reads as an empty tar.
TEST_F(StreamExaminerTest, ContentStartingWithZeroBlocksIsContent) {
  const std::string image = std::string(8192, '\0') + Csv(2000, 16);
  Write("disk.img", image);
  Sh("gzip -k disk.img && bsdtar -cf images.tar disk.img.gz");
  EXPECT_EQ(Examine("disk.img").streams, std::vector<Seen>{Content({}, image)});
  Outcome out = Examine("disk.img.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"disk.img"}, image), ArchiveFile("disk.img.gz")));
  EXPECT_THAT(out.errors, IsEmpty());
  out = Examine("images.tar");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"disk.img.gz", "disk.img"}, image),
                          ArchiveFile("disk.img.gz", {"disk.img.gz"}), ArchiveFile("images.tar")));
  EXPECT_THAT(out.errors, IsEmpty());
}

// A filesystem image holds files the scan cannot read: it is hashed like any
// content, and an error says that what is inside was not examined, as a file,
// as the content of a compressed file and as a member of archives.
TEST_F(StreamExaminerTest, DiskImagesAreContentAndAnError) {
  Write("src/customers.csv", Csv(3000, 21));
  // btrfs needs 114 MiB or more, which gzip would shrink beyond the ratio limit.
  Sh("mkfs.ext4 -q -F -d src ext4.img 4M >/dev/null && truncate -s 120M btrfs.img"
     " && mkfs.btrfs -q -f --rootdir src btrfs.img >/dev/null 2>&1"
     " && gzip -k ext4.img && xz -k -T1 ext4.img && bsdtar -czf images.tar.gz ext4.img"
     " && bsdtar -cf images.tar ext4.img.gz btrfs.img && bsdtar -cf nested.tar ext4.img.xz");
  const std::string ext4 = Read("ext4.img");
  const auto image_error = [&](const std::string& file, Chain member, const std::string& kind) {
    return ErrorAt(Path(file), std::move(member),
                   kind + " image: the files in it are not examined");
  };
  Outcome out = Examine("ext4.img");
  EXPECT_EQ(out.streams, std::vector<Seen>{Content({}, ext4)});
  EXPECT_THAT(out.errors, ElementsAre(image_error("ext4.img", {}, "ext2/3/4 filesystem")));

  out = Examine("btrfs.img", /*hash_file=*/false);
  EXPECT_THAT(out.errors, ElementsAre(image_error("btrfs.img", {}, "btrfs filesystem")));

  out = Examine("ext4.img.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"ext4.img"}, ext4), ArchiveFile("ext4.img.gz")));
  EXPECT_THAT(out.errors,
              ElementsAre(image_error("ext4.img.gz", {"ext4.img"}, "ext2/3/4 filesystem")));

  out = Examine("ext4.img.xz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"ext4.img"}, ext4), ArchiveFile("ext4.img.xz")));
  EXPECT_THAT(out.errors,
              ElementsAre(image_error("ext4.img.xz", {"ext4.img"}, "ext2/3/4 filesystem")));

  out = Examine("images.tar.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"ext4.img"}, ext4), ArchiveFile("images.tar.gz")));
  EXPECT_THAT(out.errors,
              ElementsAre(image_error("images.tar.gz", {"ext4.img"}, "ext2/3/4 filesystem")));

  out = Examine("images.tar");
  EXPECT_THAT(out.errors,
              UnorderedElementsAre(
                  image_error("images.tar", {"ext4.img.gz", "ext4.img"}, "ext2/3/4 filesystem"),
                  image_error("images.tar", {"btrfs.img"}, "btrfs filesystem")));

  out = Examine("nested.tar");
  EXPECT_THAT(out.errors, ElementsAre(image_error("nested.tar", {"ext4.img.xz", "ext4.img"},
                                                  "ext2/3/4 filesystem")));

  // A zip written over the image's last blocks: libarchive reads the file as
  // a zip with data before it, and finds the copy in it; the rest of the
  // image is still not examined.
  Sh("cp ext4.img zip_at_end.img && bsdtar --format zip -cf tail.zip src/customers.csv"
     " && dd if=tail.zip of=zip_at_end.img bs=1 conv=notrunc status=none"
     " seek=$(( $(stat -c %s ext4.img) - $(stat -c %s tail.zip) ))");
  out = Examine("zip_at_end.img");
  EXPECT_EQ(out.streams[0], Content({"src/customers.csv"}, Read("src/customers.csv")));
  EXPECT_THAT(out.errors, ElementsAre(image_error("zip_at_end.img", {}, "ext2/3/4 filesystem")));

  // An image in a tar.gz is no reason to leave the gzip's later trailers
  // unchecked: 20 MB more of it, whose CRC-32 is wrong.
  Sh("python3 -c 'import gzip, sys; m = bytearray(gzip.compress(bytes(20000000), mtime=0));"
     " m[-8] ^= 1; sys.stdout.buffer.write(m)' > crc.gz && cat images.tar.gz crc.gz > two.tar.gz");
  out = Examine("two.tar.gz");
  EXPECT_THAT(out.errors,
              UnorderedElementsAre(image_error("two.tar.gz", {"ext4.img"}, "ext2/3/4 filesystem"),
                                   ErrorAt(Path("two.tar.gz"), {}, "CRC-32")));
}

std::string CustomerId(int n) { return absl::StrCat("CUST-", 10000000 + n); }

// The fingerprints of CUST-10000000 .. CUST-10000099, 5 of which make a
// derived copy.
absl::StatusOr<FingerprintIndex> CustomersIndex() {
  common::FingerprintSet set;
  set.dataset_id = "customers";
  set.hmac_key.assign(32, 7);
  set.identifier_regex = R"(CUST-\d{8})";
  set.min_matches = 5;
  for (int i = 0; i < 100; ++i) {
    std::array<uint8_t, 32> digest{};
    unsigned int length = 0;
    const std::string id = CustomerId(i);
    HMAC(EVP_sha256(), set.hmac_key.data(), static_cast<int>(set.hmac_key.size()),
         reinterpret_cast<const unsigned char*>(id.data()), id.size(), digest.data(), &length);
    set.digests.push_back(digest);
  }
  std::sort(set.digests.begin(), set.digests.end());
  return FingerprintIndex::Build({set});
}

// Binary cpio as cpio writers make it: per entry a 26-byte header (16-bit
// words in the given byte order; mtime and filesize as two words, the high
// one first), the name with its NUL padded to even, the data padded to even;
// then the trailer.
std::string BinaryCpio(const std::vector<std::pair<std::string, std::string>>& files,
                       bool big_endian, uint32_t first_mode = 0100644) {
  std::string out;
  const auto word = [&](uint32_t value) {
    const char high = static_cast<char>(value >> 8 & 0xff), low = static_cast<char>(value & 0xff);
    out += big_endian ? std::string{high, low} : std::string{low, high};
  };
  const auto entry = [&](const std::string& name, const std::string& data, uint32_t mode) {
    for (uint32_t value : {070707u, 1u, 2u, mode, 0u, 0u, 1u, 0u}) word(value);
    const uint32_t mtime = 1700000000, size = static_cast<uint32_t>(data.size());
    word(mtime >> 16);
    word(mtime & 0xffff);
    word(static_cast<uint32_t>(name.size() + 1));
    word(size >> 16);
    word(size & 0xffff);
    out += name;
    out += std::string((name.size() + 1) % 2 == 0 ? 1 : 2, '\0');
    out += data;
    if (data.size() % 2 != 0) out += '\0';
  };
  for (size_t i = 0; i < files.size(); ++i) {
    entry(files[i].first, files[i].second, i == 0 ? first_mode : 0100644);
  }
  entry("TRAILER!!!", "", 0);
  return out;
}

// Bytes from a fixed generator, for content no format claims.
std::string NoiseBytes(size_t size, uint32_t seed) {
  std::string bytes(size, '\0');
  uint32_t x = seed;
  for (char& c : bytes) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

// Noise taken for little-endian binary cpio, whose mode (030000) has no type.
std::string CpioLikeNoise() {
  std::string bytes = "\xc7\x71" + NoiseBytes(300000, 1);
  bytes[6] = '\x00';
  bytes[7] = '\x30';
  return bytes;
}

// Noise taken for compress: 16 bits, block mode, but a first code of 511,
// with nothing in the table.
std::string CompressLikeNoise() {
  std::string bytes = "\x1f\x9d" + NoiseBytes(300000, 4);
  bytes[2] = '\x90';
  bytes[3] = '\xff';
  bytes[4] = '\x01';
  return bytes;
}

// An ar symbol table: a big-endian count (16) then offsets. As .lzma:
// properties 0, a 1 MiB dictionary, and a range coder starting with 0x2a.
std::string LzmaLikeSymbolTable() {
  std::string bytes = std::string("\x00\x00\x00\x10\x00", 5) + NoiseBytes(200000, 6);
  bytes[13] = '\x2a';
  return bytes;
}

// A tar's first member lands where images keep their labels (sector 2 here
// holds an LVM label's dump): the tar is no image, and the dump holds no data.
// A small filesystem holding files is an image all the same.
TEST_F(StreamExaminerTest, ImageHeadersInArchivesAndSmallImages) {
  std::string label(1024, '\0');
  label.replace(512, 8, "LABELONE");
  label[512 + 20] = 32;  // the PV header follows the label
  label.replace(536, 8, "LVM2 001");
  label[512 + 32 + 40 + 2] = '\x10';  // data from 1 MiB
  Write("lvm-label.bin", label);
  Write("data.bin", NoiseBytes(3 << 20, 9));
  Sh("bsdtar --format ustar -cf headers.tar lvm-label.bin data.bin");
  Outcome out = Examine("headers.tar");
  EXPECT_THAT(out.errors, IsEmpty());
  EXPECT_EQ(out.streams.size(), 3u);

  Write("src/customers.csv", Csv(500, 22));
  Sh("truncate -s 64K small.ext2 && mkfs.ext2 -q -F -b 1024 -N 16 -m 0 -d src small.ext2");
  out = Examine("small.ext2");
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("small.ext2"), {},
                                              "ext2/3/4 filesystem image: the files in it")));
}

// libarchive takes binary cpio and compress (.Z) on two bytes alone; random
// bytes that start with them (3 files in 65,536) are content, not archives
// that failed to read: no error, the file hashed whole, as a file or as a
// member.
TEST_F(StreamExaminerTest, BytesThatOnlyStartLikeCpioOrCompressAreContent) {
  std::string cpio_be = "\x71\xc7" + NoiseBytes(300000, 2);
  cpio_be[20] = '\x00';
  cpio_be[21] = '\x05';  // a 5-byte name ...
  cpio_be[30] = 'x';     // ... whose last byte is no NUL
  cpio_be[6] = '\x81';   // a regular file: the name alone gives it away
  std::string z_bits = "\x1f\x9d" + NoiseBytes(300000, 3);
  z_bits[2] = '\x97';  // 23-bit codes (block mode) ...
  z_bits[3] = '\x41';
  z_bits[4] = '\x00';  // ... though the first code, 'A', could be one
  const std::string tiny = "\xc7\x71" + NoiseBytes(20, 5);  // ends inside a header
  ExpectContent({{"le.bin", CpioLikeNoise()},
                 {"be.bin", cpio_be},
                 {"z5.bin", z_bits},
                 {"z511.bin", CompressLikeNoise()},
                 {"tiny.bin", tiny}});

  // A Latin-1 CSV whose header starts with "\xc7q" ("Çq") is text, matched
  // for records. Read as cpio, its mode is a block device ("d") and its name
  // 24,941 bytes long ("ma"), without the NUL at the end.
  absl::StatusOr<FingerprintIndex> index = CustomersIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  std::string latin1 = "\xc7qty,cod,customer,remarks\n" + Csv(3000, 18);
  for (int i = 0; i < 10; ++i) absl::StrAppend(&latin1, "1,", CustomerId(i), "\n");
  Write("latin1.csv", latin1);
  const Outcome out = Examine("latin1.csv", /*hash_file=*/true, {}, &*index);
  EXPECT_EQ(out.streams, std::vector<Seen>{Content({}, latin1)});
  ASSERT_EQ(out.derived.size(), 1u);
  EXPECT_EQ(out.derived[0].second.at(0).records_matched, 10u);
  EXPECT_THAT(out.errors, IsEmpty());
}

// The same bytes compressed: libarchive bids compress, .lzma and binary cpio
// on what xz gives too. Such content is read one filter at a time, and what
// gzip gives is decompressed apart anyway; either way it is judged on its own
// first bytes: no error, hashed whole as the compressed file's member.
TEST_F(StreamExaminerTest, ImpostorsInsideACompressedFileAreContent) {
  for (const auto& [name, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"le.bin", CpioLikeNoise()},
                                                        {"z511.bin", CompressLikeNoise()},
                                                        {"symbols.bin", LzmaLikeSymbolTable()}}) {
    Write(name, bytes);
    for (const char* tool : {"gzip", "xz"}) {
      const std::string packed = absl::StrCat(name, tool == std::string("gzip") ? ".gz" : ".xz");
      Sh(absl::StrCat(tool, " -c ", name, " > ", packed));
      const Outcome out = Examine(packed);
      EXPECT_THAT(out.streams, ElementsAre(Content({name}, bytes), ArchiveFile(packed))) << packed;
      EXPECT_THAT(out.errors, IsEmpty()) << packed;
      // And as a member of a tar.
      Sh(absl::StrCat("bsdtar -cf packed.tar ", packed));
      const Outcome in_tar = Examine("packed.tar");
      EXPECT_THAT(in_tar.streams,
                  ElementsAre(Content({packed, name}, bytes), ArchiveFile(packed, {packed}),
                              ArchiveFile("packed.tar")))
          << packed;
      EXPECT_THAT(in_tar.errors, IsEmpty()) << packed;
    }
  }

  // Real ones inside gzip are still read.
  const std::string csv = Csv(300, 19);
  Write("export.csv", csv);
  Sh("python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.compress(open(\"export.csv\", "
     "\"rb\").read(), format=lzma.FORMAT_ALONE))' > export.csv.lzma && "
     "gzip -c export.csv.lzma > export.csv.lzma.gz");
  Outcome out = Examine("export.csv.lzma.gz");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"export.csv"}, csv), ArchiveFile("export.csv.lzma.gz")));
  EXPECT_THAT(out.errors, IsEmpty());
  Write("export.cpio", BinaryCpio({{"export.csv", csv}}, /*big_endian=*/false));
  Sh("gzip -c export.cpio > export.cpio.gz");
  out = Examine("export.cpio.gz");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"export.csv"}, csv), ArchiveFile("export.cpio.gz")));
  EXPECT_THAT(out.errors, IsEmpty());
  // gzip does not count against the depth limit: a real binary cpio in a
  // gzip in a tar is read at depth 1.
  Sh("bsdtar -cf box.tar export.cpio.gz");
  ExaminationLimits shallow;
  shallow.max_depth = 1;
  out = Examine("box.tar", /*hash_file=*/true, shallow);
  EXPECT_THAT(out.streams, ElementsAre(Content({"export.cpio.gz", "export.csv"}, csv),
                                       ArchiveFile("export.cpio.gz", {"export.cpio.gz"}),
                                       ArchiveFile("box.tar")));
  EXPECT_THAT(out.errors, IsEmpty());
  // lz4 takes in a whole 4 MiB block before its first output, more than a
  // member keeps to be read again: such a member is read as before, by the
  // reader that took it for lz4 and binary cpio together.
  const std::string noise = NoiseBytes(5 << 20, 9);
  Write("big.cpio", BinaryCpio({{"noise.bin", noise}, {"export.csv", csv}}, false));
  Sh("lz4 -q -c big.cpio > big.cpio.lz4 && bsdtar -cf lz4.tar big.cpio.lz4");
  out = Examine("lz4.tar");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"big.cpio.lz4", "noise.bin"}, noise),
                          Content({"big.cpio.lz4", "export.csv"}, csv),
                          ArchiveFile("big.cpio.lz4", {"big.cpio.lz4"}), ArchiveFile("lz4.tar")));
  EXPECT_THAT(out.errors, IsEmpty());
  // A compress header that looks real in a gzip, then bytes no encoder
  // wrote: the gzip's content is hashed, and the error named on it.
  const std::string damaged_z = absl::StrCat("\x1f\x9d\x90", NoiseBytes(4000, 3));
  Write("damaged.Z", damaged_z);
  Sh("gzip -n -c damaged.Z > damaged.Z.gz");
  out = Examine("damaged.Z.gz");
  ASSERT_EQ(out.streams.size(), 2u);
  EXPECT_EQ(out.streams[0], Content({"damaged.Z"}, damaged_z));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("damaged.Z.gz"), {"damaged.Z"}, "")));
  // Damaged after a real first header, inside the gzip: still an error.
  const std::string cpio = Read("export.cpio");
  Write("cut.cpio", cpio.substr(0, cpio.size() / 2));
  Sh("gzip -c cut.cpio > cut.cpio.gz");
  EXPECT_THAT(
      Examine("cut.cpio.gz").errors,
      ElementsAre(ErrorAt(Path("cut.cpio.gz"), {"export.csv"}, "archive cut short or damaged")));
  // A gzip cut inside its first block (after its 22-byte header, which
  // names export.cpio) is an error on the file.
  const std::string gz = Read("export.cpio.gz");
  Write("cut.gz", gz.substr(0, 40));
  EXPECT_THAT(Examine("cut.gz").errors,
              ElementsAre(ErrorAt(Path("cut.gz"), {},
                                  "gzip data truncated: the compressed stream ends before its "
                                  "end (0 bytes decompressed)")));
}

// libarchive's gzip reader checks neither the CRC-32 nor the length in a
// trailer: a byte changed in stored (incompressible) data decompressed to
// other bytes without a word, and a copy of a dataset in it went unfound and
// unreported. Each trailer is now checked, also after tar's end blocks.
TEST_F(StreamExaminerTest, GzipTrailersAreChecked) {
  const std::string data = NoiseBytes(300000, 5);
  Write("data.bin", data);
  Sh("gzip -n -c data.bin > good.gz");
  const std::string good = Read("good.gz");
  const auto damaged = [&](const std::string& name, size_t at, uint8_t flip) {
    std::string bytes = good;
    bytes[at] = static_cast<char>(bytes[at] ^ flip);
    Write(name, bytes);
  };
  const std::string crc = "gzip data corrupt: the CRC-32 of the decompressed data does not match";

  // Stored data changed: what it decompresses to is hashed, and the file is
  // an error, not content that merely matches nothing.
  damaged("middle.gz", good.size() / 2, 0x10);
  Outcome out = Examine("middle.gz");
  ASSERT_EQ(out.streams.size(), 2u);
  EXPECT_EQ(out.streams[0].member, Chain{"middle"});
  EXPECT_TRUE(out.streams[0].hashed);
  EXPECT_EQ(out.streams[0].size, data.size());
  EXPECT_NE(out.streams[0].sha256, Hex(data));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("middle.gz"), {}, crc)));

  // The trailer itself damaged: the content is intact, and still reported.
  damaged("crc.gz", good.size() - 8, 0xff);
  out = Examine("crc.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"crc"}, data), ArchiveFile("crc.gz")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("crc.gz"), {}, crc)));
  damaged("length.gz", good.size() - 2, 0x01);
  EXPECT_THAT(Examine("length.gz").errors,
              ElementsAre(ErrorAt(Path("length.gz"), {},
                                  "gzip data corrupt: the decompressed length does not match")));

  // Members one after another are one stream; zero padding is no data;
  // anything else after the last member is data nobody examined.
  Write("head.bin", data.substr(0, 1000));
  Write("rest.bin", data.substr(1000));
  Sh("gzip -n -c head.bin > head.gz && gzip -n -c rest.bin > rest.gz && "
     "cat head.gz rest.gz > multi.gz && "
     "cp good.gz padded.gz && head -c 512 /dev/zero >> padded.gz && "
     "cp good.gz trailing.gz && printf 'hidden' >> trailing.gz");
  EXPECT_THAT(Examine("multi.gz").streams,
              ElementsAre(Content({"multi"}, data), ArchiveFile("multi.gz")));
  EXPECT_THAT(Examine("multi.gz").errors, IsEmpty());
  // A wrong CRC-32 in the first member: the second is still read.
  std::string multi = Read("multi.gz");
  const size_t first_crc = Read("head.gz").size() - 8;
  multi[first_crc] = static_cast<char>(multi[first_crc] ^ 0xff);
  Write("multi_crc.gz", multi);
  out = Examine("multi_crc.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"multi_crc"}, data), ArchiveFile("multi_crc.gz")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("multi_crc.gz"), {}, crc)));
  EXPECT_THAT(Examine("padded.gz").streams,
              ElementsAre(Content({"padded"}, data), ArchiveFile("padded.gz")));
  EXPECT_THAT(Examine("padded.gz").errors, IsEmpty());
  out = Examine("trailing.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"trailing"}, data), ArchiveFile("trailing.gz")));
  EXPECT_THAT(out.errors,
              ElementsAre(ErrorAt(Path("trailing.gz"), {},
                                  "data after the end of the gzip stream (after 1 member) is "
                                  "not gzip: not examined")));
  // Even when what follows starts like gzip, or is one byte zlib holds on to.
  for (const std::string& tail :
       {std::string("\x1fhidden"), std::string("\x1f\x8b"), std::string("x")}) {
    Write("tail.gz", good + tail);
    out = Examine("tail.gz");
    EXPECT_THAT(out.streams, ElementsAre(Content({"tail"}, data), ArchiveFile("tail.gz")));
    EXPECT_THAT(out.errors,
                ElementsAre(ErrorAt(Path("tail.gz"), {}, "data after the end of the gzip stream")));
  }

  // A tar.gz: the reader stops at tar's end blocks, before the trailer,
  // which is checked all the same; a damaged .gz member names its chain.
  Sh("bsdtar -cf data.tar data.bin && gzip -n -c data.tar > data.tar.gz");
  std::string tar_gz = Read("data.tar.gz");
  tar_gz[tar_gz.size() - 7] = static_cast<char>(tar_gz[tar_gz.size() - 7] ^ 1);
  Write("data.tar.gz", tar_gz);
  out = Examine("data.tar.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"data.bin"}, data), ArchiveFile("data.tar.gz")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("data.tar.gz"), {}, crc)));
  Sh("bsdtar -cf box.tar crc.gz");
  out = Examine("box.tar");
  EXPECT_THAT(out.streams, ElementsAre(Content({"crc.gz", "crc"}, data),
                                       ArchiveFile("crc.gz", {"crc.gz"}), ArchiveFile("box.tar")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("box.tar"), {"crc.gz"}, crc)));
  // A second member cut after its header is a cut stream, not stray bytes.
  Write("cut2.gz", good + good.substr(0, 12));
  EXPECT_THAT(Examine("cut2.gz").errors,
              ElementsAre(ErrorAt(Path("cut2.gz"), {"cut2"}, "bytes decompressed, in member 2)")));
  // Cut early: one error, the gzip's own.
  Write("cut200.gz", good.substr(0, 200));
  EXPECT_THAT(Examine("cut200.gz").errors,
              ElementsAre(ErrorAt(Path("cut200.gz"), {}, "gzip data truncated")));
  // A member over its limit: that error alone, and the rest not decompressed
  // against the archive's limit just to check the trailer.
  Write("big.csv", Csv(400000, 3));
  Sh("gzip -n -c big.csv > big.csv.gz");
  ExaminationLimits limits;
  limits.max_member_bytes = 4 << 20;
  limits.max_archive_bytes = 8 << 20;
  EXPECT_THAT(Examine("big.csv.gz", true, limits).errors,
              ElementsAre(ErrorAt(Path("big.csv.gz"), {"big.csv"}, "member size limit exceeded")));
  // An error inside does not hide the trailer's.
  Write("cut.gz", good.substr(0, good.size() / 2));
  Sh("bsdtar -cf two.tar cut.gz data.bin && gzip -n -c two.tar > two.tar.gz");
  std::string two = Read("two.tar.gz");
  two[two.size() - 8] = static_cast<char>(two[two.size() - 8] ^ 0xff);
  Write("two.tar.gz", two);
  EXPECT_THAT(Examine("two.tar.gz").errors,
              ElementsAre(ErrorAt(Path("two.tar.gz"), {"cut.gz", "cut"}, "gzip data truncated"),
                          ErrorAt(Path("two.tar.gz"), {}, crc)));
}

// A tar or cpio archive ends with a marker (tar's zero blocks, cpio's
// trailer), and what follows it is read by no reader: a second tar after the
// first (`cat a.tar b.tar`), the compressed cpio after an initramfs's first
// one. It is an error on the stream that holds it, which is still hashed
// whole; zeros after the end are padding.
TEST_F(StreamExaminerTest, DataAfterAnArchivesEndIsAnError) {
  const std::string first = Csv(40, 31);
  Write("first.csv", first);
  Write("second.csv", Csv(40, 32));
  Sh("bsdtar -cf a.tar first.csv && bsdtar -cf b.tar second.csv && cat a.tar b.tar > ab.tar && "
     "gzip -n -c ab.tar > ab.tar.gz && bsdtar -cf outer.tar ab.tar ab.tar.gz && "
     "bsdtar --format newc -cf a.cpio first.csv && gzip -n -c b.tar > b.tar.gz && "
     "cat a.cpio b.tar.gz > initrd.img && "
     "cp a.tar padded.tar && head -c 100000 /dev/zero >> padded.tar && "
     "gzip -n -c padded.tar > padded.tar.gz && bsdtar -cf padded_outer.tar padded.tar");
  const auto after_end = [](absl::string_view format, uint64_t at, bool decompressed) {
    return absl::StrCat("data after the end of the ", format, " archive (from byte ", at,
                        decompressed ? " of the decompressed data" : "",
                        ") not examined: another archive or other data follows it");
  };
  const uint64_t b_at = Read("a.tar").size();

  Outcome out = Examine("ab.tar");
  EXPECT_THAT(out.streams, ElementsAre(Content({"first.csv"}, first), ArchiveFile("ab.tar")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("ab.tar"), {}, after_end("tar", b_at, false))));
  // Not asked to hash the file: the rest is read all the same.
  EXPECT_THAT(Examine("ab.tar", /*hash_file=*/false).errors,
              ElementsAre(ErrorAt(Path("ab.tar"), {}, after_end("tar", b_at, false))));
  out = Examine("ab.tar.gz");
  EXPECT_THAT(out.streams, ElementsAre(Content({"first.csv"}, first), ArchiveFile("ab.tar.gz")));
  EXPECT_THAT(out.errors,
              ElementsAre(ErrorAt(Path("ab.tar.gz"), {}, after_end("tar", b_at, true))));
  out = Examine("outer.tar");
  EXPECT_THAT(out.errors,
              UnorderedElementsAre(
                  ErrorAt(Path("outer.tar"), {"ab.tar"}, after_end("tar", b_at, false)),
                  ErrorAt(Path("outer.tar"), {"ab.tar.gz"}, after_end("tar", b_at, true))));
  EXPECT_THAT(out.streams, ::testing::Contains(ArchiveFile("ab.tar", {"ab.tar"})));
  out = Examine("initrd.img");
  EXPECT_THAT(out.streams, ElementsAre(Content({"first.csv"}, first), ArchiveFile("initrd.img")));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("initrd.img"), {},
                                              after_end("cpio", Read("a.cpio").size(), false))));
  // An empty tar is content (as disk images starting with zeros are), but a
  // tar after it is not.
  Sh("bsdtar -cf empty.tar -T /dev/null && cat empty.tar b.tar > eb.tar && "
     "gzip -n -c eb.tar > eb.tar.gz && xz -c eb.tar > eb.tar.xz");
  const uint64_t eb_at = Read("empty.tar").size();
  EXPECT_THAT(Examine("eb.tar").errors,
              ElementsAre(ErrorAt(Path("eb.tar"), {}, after_end("tar", eb_at, false))));
  EXPECT_THAT(Examine("eb.tar.gz").errors,
              ElementsAre(ErrorAt(Path("eb.tar.gz"), {"eb.tar"}, after_end("tar", eb_at, false))));
  EXPECT_THAT(Examine("eb.tar.xz").errors,
              ElementsAre(ErrorAt(Path("eb.tar.xz"), {"eb.tar"}, after_end("tar", eb_at, false))));
  // One zero block is an empty tar too; a compressed archive after it is an
  // archive all the same.
  Sh("(head -c 512 /dev/zero; cat b.tar) > z1.tar && cat empty.tar b.tar.gz > eg.bin");
  EXPECT_THAT(Examine("z1.tar").errors,
              ElementsAre(ErrorAt(Path("z1.tar"), {}, after_end("tar", 512, false))));
  EXPECT_THAT(Examine("eg.bin").errors,
              ElementsAre(ErrorAt(Path("eg.bin"), {}, after_end("tar", eb_at, false))));
  // A follower shorter than a block still shows its signature. A zip after
  // zeros is found and read by its central directory: no error. Text that
  // merely starts like bzip2's or cpio's magic is content.
  Sh("(head -c 512 /dev/zero; gzip -n -c second.csv) > short.bin && "
     "zip -q -0 first.zip first.csv && (head -c 512 /dev/zero; cat first.zip) > zero_first.zip && "
     "(head -c 512 /dev/zero; echo 'BZh is how this note starts'; cat first.csv) > bz_note.txt && "
     "(head -c 4096 /dev/zero; echo '07070,Rutherford,NJ'; cat first.csv) > cpio_like.csv");
  EXPECT_THAT(Examine("short.bin").errors,
              ElementsAre(ErrorAt(Path("short.bin"), {}, after_end("tar", 512, false))));
  out = Examine("zero_first.zip");
  EXPECT_THAT(out.errors, IsEmpty());
  EXPECT_THAT(out.streams, ::testing::Contains(Content({"first.csv"}, first)));
  EXPECT_THAT(Examine("bz_note.txt").errors, IsEmpty());
  EXPECT_THAT(Examine("cpio_like.csv").errors, IsEmpty());
  // A tar at the start of a sparse file: the hole is zeros, not read; data
  // after it is found where it is.
  Sh("cp a.tar sparse.tar && truncate -s 100000000 sparse.tar && "
     "cp sparse.tar sparse_x.tar && printf X | dd of=sparse_x.tar bs=1 seek=60000000 "
     "conv=notrunc status=none");
  out = Examine("sparse.tar", /*hash_file=*/false);
  EXPECT_THAT(out.errors, IsEmpty());
  EXPECT_LT(out.stats.bytes_read, 1u << 20);
  EXPECT_THAT(Examine("sparse_x.tar", /*hash_file=*/false).errors,
              ElementsAre(ErrorAt(Path("sparse_x.tar"), {}, after_end("tar", 60000000, false))));
  for (const char* padded : {"padded.tar", "padded.tar.gz"}) {
    out = Examine(padded);
    EXPECT_THAT(out.errors, IsEmpty()) << padded;
    EXPECT_THAT(out.streams, ElementsAre(Content({"first.csv"}, first), ArchiveFile(padded)));
  }
  // Small archives whose padding libarchive's bidders read far ahead into
  // (iso9660's 48 KiB for anything that bids low, as cpio does; lha's search
  // after "MZ"): no false alarm, in a file, a gzip or a tar.
  // (Written to a pipe, bsdtar pads to 10 KiB, as tar does.)
  Sh("cp first.csv MZtool && bsdtar -cf - MZtool | cat > mz.tar && gzip -n -c mz.tar > mz.tar.gz "
     "&& "
     "bsdtar --format newc -cf - first.csv | cat > a.newc && gzip -n -c a.newc > a.newc.gz && "
     "bsdtar --format odc -cf - first.csv | cat > a.odc && gzip -n -c a.odc > a.odc.gz && "
     "bsdtar -cf small_outer.tar mz.tar a.newc a.odc && test $(stat -c %s a.newc) = 10240");
  for (const char* small :
       {"mz.tar", "mz.tar.gz", "a.newc", "a.newc.gz", "a.odc", "a.odc.gz", "small_outer.tar"}) {
    EXPECT_THAT(Examine(small).errors, IsEmpty()) << small;
  }
  out = Examine("padded_outer.tar");
  EXPECT_THAT(out.errors, IsEmpty());
  EXPECT_THAT(out.streams, ElementsAre(Content({"padded.tar", "first.csv"}, first),
                                       ArchiveFile("padded.tar", {"padded.tar"}),
                                       ArchiveFile("padded_outer.tar")));

  // A member's error does not stop the tar's reader, so the gzip is read to
  // its end: a damaged trailer more than 16 MiB past the tar's end blocks is
  // still reported.
  Write("noise.bin", NoiseBytes(100000, 33));
  Sh("zip -q -P secret enc.zip first.csv && bsdtar -cf enc.tar enc.zip noise.bin && "
     "head -c 17000000 /dev/zero >> enc.tar && gzip -n -c enc.tar > enc.tar.gz");
  std::string gz = Read("enc.tar.gz");
  gz[gz.size() - 8] = static_cast<char>(gz[gz.size() - 8] ^ 0xff);
  Write("enc_crc.tar.gz", gz);
  EXPECT_THAT(
      Examine("enc_crc.tar.gz").errors,
      UnorderedElementsAre(ErrorAt(Path("enc_crc.tar.gz"), {"enc.zip", "first.csv"}, "encrypted"),
                           ErrorAt(Path("enc_crc.tar.gz"), {}, "CRC-32")));
}

// What a real archive of those formats starts with is trusted: it is read,
// and when damaged after its first header, that is still an error.
TEST_F(StreamExaminerTest, RealBinaryCpioAndCompressAreStillArchives) {
  const std::string csv = Csv(200, 17);
  for (bool big_endian : {false, true}) {
    const std::string name = big_endian ? "be.cpio" : "le.cpio";
    const std::string cpio = BinaryCpio({{"export.csv", csv}}, big_endian);
    Write(name, cpio);
    Outcome out = Examine(name);
    EXPECT_THAT(out.streams, ElementsAre(Content({"export.csv"}, csv), ArchiveFile(name))) << name;
    EXPECT_THAT(out.errors, IsEmpty()) << name;
    // Cut in the member's data: libarchive gives no reason of its own.
    Write(name, cpio.substr(0, cpio.size() / 2));
    out = Examine(name);
    ASSERT_EQ(out.streams.size(), 2u) << name;
    EXPECT_FALSE(out.streams[0].hashed) << name;
    const std::string reason =
        absl::StrCat("member data unreadable before its end (its header declares ", csv.size(),
                     " bytes): archive cut short or damaged");
    EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path(name), {"export.csv"}, reason))) << name;
  }
  // GNU cpio still writes HP-UX network special files (type 0110000).
  Write("net.cpio", BinaryCpio({{"net", ""}, {"export.csv", csv}}, false, 0110644));
  EXPECT_THAT(Examine("net.cpio").streams,
              ElementsAre(Content({"export.csv"}, csv), ArchiveFile("net.cpio")));
  // "ab" in compress's format: 16-bit codes at most, block mode, then the
  // 9-bit codes of 'a' and 'b', least significant bit first; then the same
  // with codes of "at most 8 bits", which decoders read all the same.
  for (const char* flags : {"\x90", "\x08"}) {
    Write("ab.Z", absl::StrCat("\x1f\x9d", flags, std::string("\x61\xc4\x00", 3)));
    const Outcome out = Examine("ab.Z");
    EXPECT_THAT(out.streams, ElementsAre(Content({"ab"}, "ab"), ArchiveFile("ab.Z"))) << flags;
    EXPECT_THAT(out.errors, IsEmpty());
  }
}

// .lzma has no magic: libarchive bids on a properties byte below 225 and a
// power of two after it. The symbol table that starts every static library,
// Java resource files and browser .pak files pass that, then fail to
// decompress; they are content.
TEST_F(StreamExaminerTest, BytesThatOnlyStartLikeLzmaAreContent) {
  // Properties and dictionary as xz --format=lzma writes them and a range
  // coder starting with 0, then bytes no encoder wrote: decoding fails at
  // once.
  std::string huge = std::string("\x5d\x00\x00\x80\x00", 5) + std::string(5, '\0') +
                     std::string("\x01\x00\x00\x00", 4) + NoiseBytes(200000, 7);
  ASSERT_EQ(huge[13], '\0');
  // A whole header and less than the range coder's 5 bytes.
  const std::string tiny = std::string("\x5d\x00\x00\x80\x00", 5) + std::string(8, '\xff') +
                           std::string("\x00\x01\x02", 3);
  // A MATLAB v4 matrix file: as .lzma, a 32 MiB dictionary, a range coder
  // starting with 0, and 32 MiB announced from 25 bytes.
  const std::string matrix = std::string("\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00", 12) +
                             std::string("\x00\x00\x00\x00\x02\x00\x00\x00\x61\x00", 10) +
                             "\x9a\x99\x99\x99\x99\x99\xb9\x3f\x33\x33\x33\x33\x33\x33\xf3\x3f";
  ExpectContent({{"symbols.bin", LzmaLikeSymbolTable()},
                 {"huge.bin", huge},
                 {"tiny.bin", tiny},
                 {"matrix.mat", matrix}});

  // Real .lzma is still decompressed: a single file, and a tar in it; cut
  // short, it is an error.
  const std::string csv = Csv(300, 19);
  Write("export.csv", csv);
  Sh("python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.compress(open(\"export.csv\", "
     "\"rb\").read(), format=lzma.FORMAT_ALONE))' > export.csv.lzma");
  Outcome out = Examine("export.csv.lzma");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"export.csv"}, csv), ArchiveFile("export.csv.lzma")));
  EXPECT_THAT(out.errors, IsEmpty());
  Sh("bsdtar --lzma -cf export.tar.lzma export.csv");
  out = Examine("export.tar.lzma");
  EXPECT_THAT(out.streams,
              ElementsAre(Content({"export.csv"}, csv), ArchiveFile("export.tar.lzma")));
  EXPECT_THAT(out.errors, IsEmpty());
  // As members whose data starts 512 bytes before the end of the first read
  // from the file (64 KiB): the reader is handed a short chunk, and the look
  // at the head reads further ahead than it did; it must still get every
  // byte in order.
  const std::string big = Csv(40000, 23);
  Write("big.csv", big);
  Sh("python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.compress(open(\"big.csv\", "
     "\"rb\").read(), format=lzma.FORMAT_ALONE))' > big.csv.lzma");
  Write("pad.bin", std::string(64000, 'p'));  // 512 + 64000 + 512 = 65024
  Write("big.cpio", BinaryCpio({{"big.csv", big}}, /*big_endian=*/false));
  for (const char* second : {"big.csv.lzma", "big.cpio"}) {
    Sh(absl::StrCat("bsdtar --format ustar -cf members.tar pad.bin ", second));
    out = Examine("members.tar");
    EXPECT_THAT(out.streams, ElementsAre(Content({"pad.bin"}, Read("pad.bin")),
                                         Content({second, "big.csv"}, big),
                                         ArchiveFile(second, {second}), ArchiveFile("members.tar")))
        << second;
    EXPECT_THAT(out.errors, IsEmpty()) << second;
  }
  Sh("head -c 600 export.csv.lzma > cut.csv.lzma");
  out = Examine("cut.csv.lzma");
  EXPECT_THAT(out.errors, Not(IsEmpty()));
  // A real stream whose size field was changed (2^38 bytes) still decodes:
  // read, and its error reported, never taken for plain content.
  std::string patched = Read("big.csv.lzma");
  patched.replace(5, 8, std::string("\x00\x00\x00\x00\x40\x00\x00\x00", 8));
  Write("patched.csv.lzma", patched);
  out = Examine("patched.csv.lzma");
  EXPECT_EQ(out.stats.archives_opened, 1u);
  // Most of the 1.2 MB: the read that meets the error (up to 256 KiB) is lost.
  EXPECT_GT(out.stats.bytes_decompressed, 800000u);
  EXPECT_THAT(out.errors, Not(IsEmpty()));
}

TEST_F(StreamExaminerTest, TimeLimitStopsTheFile) {
  Write("a.csv", Csv(100, 12));
  Sh("bsdtar -czf t.tar.gz a.csv");
  ExaminationLimits limits;
  limits.per_file_timeout = std::chrono::seconds(0);
  const Outcome out = Examine("t.tar.gz", true, limits);
  EXPECT_THAT(out.streams, ElementsAre(Seen{{}, "", Read("t.tar.gz").size(), false, false}));
  EXPECT_THAT(out.errors, ElementsAre(ErrorAt(Path("t.tar.gz"), {}, "time limit")));
}

TEST_F(StreamExaminerTest, ArMembersWithoutFileTypeAreFiles) {
  const std::string data = Csv(100, 19);
  Write("c.csv", data);
  Sh("ar rc lib.a c.csv 2>/dev/null");
  EXPECT_THAT(Examine("lib.a").streams,
              ElementsAre(Content({"c.csv"}, data), ArchiveFile("lib.a")));
}

TEST_F(StreamExaminerTest, HardLinksAreExaminedOnce) {
  const std::string data = Csv(100, 18);
  Write("src/a.csv", data);
  ASSERT_EQ(::link(Path("src/a.csv").c_str(), Path("src/b.csv").c_str()), 0);
  Sh("bsdtar -cf links.tar -C src a.csv b.csv && "
     "bsdtar --format newc -cf links.cpio -C src a.csv b.csv");
  EXPECT_THAT(Examine("links.tar").streams,
              ElementsAre(Content({"a.csv"}, data), ArchiveFile("links.tar")));
  EXPECT_THAT(Examine("links.cpio").streams,
              ElementsAre(Content({"b.csv"}, data), ArchiveFile("links.cpio")));
}

TEST_F(StreamExaminerTest, DerivedCopiesAreMatchedInPlainFilesAndMembers) {
  absl::StatusOr<FingerprintIndex> index = CustomersIndex();
  ASSERT_TRUE(index.ok()) << index.status();

  std::string extract = "customer,name\n";
  for (int i = 0; i < 40; i += 2) absl::StrAppend(&extract, CustomerId(i), ",Jane Doe\n");
  Write("extract.csv", extract);
  Write("other.csv", "customer,name\nCUST-99999999,John Roe\n");
  Sh("bsdtar -czf d.tar.gz extract.csv other.csv");
  auto customers = [](uint64_t n) {
    return ElementsAre(AllOf(Field(&DerivedMatch::dataset_id, "customers"),
                             Field(&DerivedMatch::records_matched, n)));
  };
  Outcome out = Examine("d.tar.gz", /*hash_file=*/false, {}, &*index);
  EXPECT_THAT(out.derived, ElementsAre(Pair(Chain{"extract.csv"}, customers(20))));
  EXPECT_THAT(out.errors, IsEmpty());
  // Matching needs the whole of a plain file, asked for or not.
  out = Examine("extract.csv", /*hash_file=*/false, {}, &*index);
  EXPECT_THAT(out.derived, ElementsAre(Pair(Chain{}, customers(20))));
  EXPECT_THAT(out.streams, ElementsAre(Content({}, extract)));
}

class OddNamesTest : public StreamExaminerTest,
                     public ::testing::WithParamInterface<const char*> {};

TEST_P(OddNamesTest, NamesAreCarriedByteForByte) {
  const std::string odd = "bad\xffname\nx.csv", accented = "caf\xc3\xa9.csv";
  const std::string a = Csv(20, 13), b = Csv(30, 14);
  Write("src/" + odd, a);
  Write("src/" + accented, b);
  Sh(std::string("cd src && ") + GetParam());
  const Outcome out = Examine("names");
  ASSERT_FALSE(out.streams.empty());
  EXPECT_THAT(std::vector<Seen>(out.streams.begin(), out.streams.end() - 1),
              UnorderedElementsAre(Content({odd}, a), Content({accented}, b)));
  EXPECT_THAT(out.errors, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Formats, OddNamesTest,
                         ::testing::Values("bsdtar -czf ../names * 2>/dev/null",
                                           "bsdtar --format cpio -cf ../names *",
                                           "bsdtar --format iso9660 -cf ../names * 2>/dev/null",
                                           "zip -q ../names.zip * && mv ../names.zip ../names"));

TEST_F(StreamExaminerTest, FdByteSourceReadsToTheEnd) {
  const std::string text = Csv(1000, 15);
  Write("f.csv", text);
  const int fd = ::open(Path("f.csv").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  FdByteSource source(fd);
  std::string got;
  std::vector<uint8_t> buffer(4096);
  for (;;) {
    absl::StatusOr<size_t> n = source.Read(buffer);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    got.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  ::close(fd);
  EXPECT_EQ(got, text);
  EXPECT_EQ(source.bytes_read(), text.size());
  FdByteSource closed(-1);
  EXPECT_FALSE(closed.Read(buffer).ok());
}

}  // namespace
}  // namespace offboard::agent
