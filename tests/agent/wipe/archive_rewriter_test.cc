#include "agent/wipe/archive_rewriter.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "agent/scan/archive_source.h"
#include "common/io/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

using common::UniqueFd;

// One entry to write, or as read back.
struct Member {
  std::string name;
  std::string data;
  mode_t type = AE_IFREG;
  std::string symlink;
  std::string hardlink;
  int perm = 0640;
  int64_t mtime = 1700000000;
  int64_t uid = 1001;
  int64_t gid = 1002;
  std::string entry_format;  // read back: libarchive's format name at this entry

  auto Tie() const {
    return std::tie(name, data, type, symlink, hardlink, perm, mtime, uid, gid, entry_format);
  }
  bool operator==(const Member& other) const { return Tie() == other.Tie(); }
};

std::ostream& operator<<(std::ostream& os, const Member& m) {
  return os << m.name << " type=" << m.type << " perm=" << m.perm << " size=" << m.data.size()
            << " symlink=" << m.symlink << " hardlink=" << m.hardlink << " mtime=" << m.mtime
            << " uid=" << m.uid << " gid=" << m.gid << " format=" << m.entry_format;
}

Member File(std::string name, std::string data) {
  Member m;
  m.name = std::move(name);
  m.data = std::move(data);
  return m;
}
Member Dir(std::string name) {
  Member m;
  m.name = std::move(name);
  m.type = AE_IFDIR;
  m.perm = 0750;
  return m;
}
Member Symlink(std::string name, std::string target) {
  Member m;
  m.name = std::move(name);
  m.type = AE_IFLNK;
  m.symlink = std::move(target);
  m.perm = 0777;
  return m;
}

struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t AppendToString(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// An archive in `format` with `filters` applied innermost first. Zip entries
// whose name ends in ".stored" are stored, the others deflated; with a
// passphrase, encrypted.
std::string BuildArchive(int (*format)(archive*), const std::vector<int>& filters,
                         const std::vector<Member>& members, const char* zip_passphrase = nullptr) {
  std::unique_ptr<archive, WriteDeleter> w(archive_write_new());
  EXPECT_EQ(format(w.get()), ARCHIVE_OK);
  if (zip_passphrase != nullptr) {
    EXPECT_EQ(archive_write_set_options(w.get(), "zip:encryption=zipcrypt"), ARCHIVE_OK);
    EXPECT_EQ(archive_write_set_passphrase(w.get(), zip_passphrase), ARCHIVE_OK);
  }
  for (int filter : filters) EXPECT_EQ(archive_write_add_filter(w.get(), filter), ARCHIVE_OK);
  archive_write_set_bytes_in_last_block(w.get(), 1);
  std::string bytes;
  EXPECT_EQ(archive_write_open2(w.get(), &bytes, nullptr, AppendToString, nullptr, nullptr),
            ARCHIVE_OK);
  for (const Member& m : members) {
    std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), m.name.c_str());
    archive_entry_set_filetype(e.get(), m.type);
    archive_entry_set_perm(e.get(), static_cast<mode_t>(m.perm));
    archive_entry_set_mtime(e.get(), m.mtime, 0);
    archive_entry_set_uid(e.get(), m.uid);
    archive_entry_set_gid(e.get(), m.gid);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(m.data.size()));
    if (!m.symlink.empty()) archive_entry_set_symlink(e.get(), m.symlink.c_str());
    if (!m.hardlink.empty()) archive_entry_set_hardlink(e.get(), m.hardlink.c_str());
    if (format == archive_write_set_format_zip) {
      if (m.name.ends_with(".stored")) {
        archive_write_zip_set_compression_store(w.get());
      } else {
        archive_write_zip_set_compression_deflate(w.get());
      }
    }
    EXPECT_EQ(archive_write_header(w.get(), e.get()), ARCHIVE_OK) << m.name;
    EXPECT_EQ(archive_write_data(w.get(), m.data.data(), m.data.size()),
              static_cast<la_ssize_t>(m.data.size()));
  }
  EXPECT_EQ(archive_write_close(w.get()), ARCHIVE_OK);
  return bytes;
}

struct ReadBack {
  std::string format;  // at the first entry
  std::vector<std::string> filters;
  std::vector<Member> members;
};

ReadBack Read(const std::string& bytes) {
  ReadBack out;
  std::unique_ptr<archive, ReadDeleter> r(archive_read_new());
  archive_read_support_format_all(r.get());
  archive_read_support_filter_all(r.get());
  EXPECT_EQ(archive_read_open_memory(r.get(), bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  int status;
  while ((status = archive_read_next_header(r.get(), &e)) == ARCHIVE_OK) {
    Member m;
    m.name = archive_entry_pathname(e);
    m.type = archive_entry_filetype(e);
    m.perm = archive_entry_perm(e);
    if (const char* s = archive_entry_symlink(e)) m.symlink = s;
    if (const char* h = archive_entry_hardlink(e)) m.hardlink = h;
    m.mtime = archive_entry_mtime(e);
    m.uid = archive_entry_uid(e);
    m.gid = archive_entry_gid(e);
    m.entry_format = archive_format_name(r.get());
    char buffer[4096];
    la_ssize_t n;
    while ((n = archive_read_data(r.get(), buffer, sizeof(buffer))) > 0) m.data.append(buffer, n);
    EXPECT_EQ(n, 0) << archive_error_string(r.get());
    if (out.members.empty()) out.format = archive_format_name(r.get());
    out.members.push_back(std::move(m));
  }
  EXPECT_EQ(status, ARCHIVE_EOF) << archive_error_string(r.get());
  for (int i = 0; i < archive_filter_count(r.get()); ++i) {
    if (archive_filter_code(r.get(), i) != ARCHIVE_FILTER_NONE) {
      out.filters.push_back(archive_filter_name(r.get(), i));
    }
  }
  return out;
}

std::vector<Member> Without(std::vector<Member> members, const std::string& name) {
  std::erase_if(members, [&](const Member& m) { return m.name == name; });
  return members;
}

std::string ReadAll(const boost::filesystem::path& path) {
  std::ifstream in(path.string(), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Rewritten {
  absl::StatusOr<ArchiveRewriteResult> result;
  std::string bytes;
};

// Runs the rewriter on `source` as a file, and checks that it left the
// source fd's offset alone.
Rewritten RunRewrite(const std::string& source, const std::vector<std::vector<std::string>>& drop,
                     uint64_t max_inner_bytes = 256ull << 20) {
  testing::TempDir dir;
  const boost::filesystem::path source_path = dir.WriteFile("source.archive", source);
  const boost::filesystem::path dest_path = dir.path() / "dest.archive";
  UniqueFd source_fd(::open(source_path.c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd dest_fd(::open(dest_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  EXPECT_TRUE(source_fd && dest_fd);
  Rewritten out{RewriteArchiveWithout(source_fd.get(), dest_fd.get(), drop, "/srv/source.archive",
                                      max_inner_bytes),
                ""};
  EXPECT_EQ(::lseek(source_fd.get(), 0, SEEK_CUR), 0);
  out.bytes = ReadAll(dest_path);
  return out;
}

struct FormatCase {
  const char* label;
  int (*format)(archive*);
  std::vector<int> filters;
  bool symlinks = true;
};

class RewriteFormatTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(RewriteFormatTest, DropsOneMemberAndKeepsTheRest) {
  std::vector<Member> members = {Dir("data/"), File("data/keep.txt", "kept, byte for byte\n"),
                                 File("data/customers.csv", "id,name\n1,Alice\n"),
                                 File("data/empty", "")};
  if (GetParam().symlinks) members.push_back(Symlink("data/link", "keep.txt"));
  const std::string source = BuildArchive(GetParam().format, GetParam().filters, members);
  const ReadBack before = Read(source);
  ASSERT_EQ(before.members.size(), members.size());

  Rewritten after = RunRewrite(source, {{"data/customers.csv"}});
  ASSERT_TRUE(after.result.ok()) << after.result.status();
  EXPECT_EQ(after.result->removed, (std::vector<std::vector<std::string>>{{"data/customers.csv"}}));
  EXPECT_EQ(after.result->members_kept, members.size() - 1);
  EXPECT_EQ(after.result->format, before.format);
  EXPECT_EQ(after.result->filters, before.filters);
  const ReadBack reread = Read(after.bytes);
  EXPECT_EQ(reread.format, before.format);
  EXPECT_EQ(reread.filters, before.filters);
  EXPECT_EQ(reread.members, Without(before.members, "data/customers.csv"));
}

INSTANTIATE_TEST_SUITE_P(
    Formats, RewriteFormatTest,
    ::testing::Values(
        FormatCase{"ustar", archive_write_set_format_ustar, {}},
        FormatCase{"pax", archive_write_set_format_pax, {}},
        FormatCase{"gnutar", archive_write_set_format_gnutar, {}},
        FormatCase{"tar_gz", archive_write_set_format_pax_restricted, {ARCHIVE_FILTER_GZIP}},
        FormatCase{"tar_bz2", archive_write_set_format_gnutar, {ARCHIVE_FILTER_BZIP2}},
        FormatCase{"tar_xz", archive_write_set_format_ustar, {ARCHIVE_FILTER_XZ}},
        FormatCase{"tar_zst", archive_write_set_format_pax, {ARCHIVE_FILTER_ZSTD}},
        FormatCase{"tar_lz4", archive_write_set_format_ustar, {ARCHIVE_FILTER_LZ4}},
        FormatCase{"tar_Z", archive_write_set_format_ustar, {ARCHIVE_FILTER_COMPRESS}},
        FormatCase{
            "tar_gz_xz", archive_write_set_format_ustar, {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_XZ}},
        FormatCase{"zip", archive_write_set_format_zip, {}},
        FormatCase{"sevenzip", archive_write_set_format_7zip, {}},
        FormatCase{"cpio_newc", archive_write_set_format_cpio_newc, {}},
        FormatCase{"cpio_odc_gz", archive_write_set_format_cpio_odc, {ARCHIVE_FILTER_GZIP}}),
    [](const ::testing::TestParamInfo<FormatCase>& param_info) { return param_info.param.label; });

TEST(RewriteArchiveTest, KeepsZipCompressionPerEntry) {
  const std::vector<Member> members = {File("a.stored", std::string(5000, 'a')),
                                       File("b.csv", std::string(5000, 'b')),
                                       File("c.txt", std::string(5000, 'c'))};
  const std::string source = BuildArchive(archive_write_set_format_zip, {}, members);
  const Rewritten after = RunRewrite(source, {{"b.csv"}});
  ASSERT_TRUE(after.result.ok()) << after.result.status();
  const ReadBack reread = Read(after.bytes);
  ASSERT_EQ(reread.members.size(), 2u);
  EXPECT_EQ(reread.members, Without(Read(source).members, "b.csv"));
  EXPECT_EQ(reread.members[0].entry_format, "ZIP 1.0 (uncompressed)");
  EXPECT_EQ(reread.members[1].entry_format, "ZIP 2.0 (deflation)");
}

TEST(RewriteArchiveTest, DropsAHardLinkToADroppedMemberToo) {
  Member link = File("copy.csv", "");
  link.hardlink = "customers.csv";
  const std::string source =
      BuildArchive(archive_write_set_format_pax_restricted, {ARCHIVE_FILTER_GZIP},
                   {File("customers.csv", "id\n1\n"), link, File("readme", "hi\n")});
  const Rewritten after = RunRewrite(source, {{"customers.csv"}});
  ASSERT_TRUE(after.result.ok()) << after.result.status();
  EXPECT_EQ(after.result->removed,
            (std::vector<std::vector<std::string>>{{"customers.csv"}, {"copy.csv"}}));
  EXPECT_EQ(after.result->members_kept, 1u);
  ASSERT_EQ(Read(after.bytes).members.size(), 1u);
  EXPECT_EQ(Read(after.bytes).members[0].name, "readme");
}

TEST(RewriteArchiveTest, DropsFromAZipInsideATarGz) {
  const std::vector<Member> inner_members = {File("customers.csv", "id,iban\n1,DE00\n"),
                                             File("notes.txt", "vendor notes\n")};
  const std::string inner = BuildArchive(archive_write_set_format_zip, {}, inner_members);
  const std::vector<Member> outer_members = {File("other.txt", "x"), File("inner.zip", inner),
                                             File("tail.txt", "y")};
  const std::string source =
      BuildArchive(archive_write_set_format_gnutar, {ARCHIVE_FILTER_GZIP}, outer_members);

  const Rewritten after = RunRewrite(source, {{"inner.zip", "customers.csv"}});
  ASSERT_TRUE(after.result.ok()) << after.result.status();
  EXPECT_EQ(after.result->removed,
            (std::vector<std::vector<std::string>>{{"inner.zip", "customers.csv"}}));
  EXPECT_EQ(after.result->members_kept, 3u);
  EXPECT_EQ(after.result->format, "GNU tar format");
  EXPECT_EQ(after.result->filters, std::vector<std::string>{"gzip"});
  const ReadBack outer = Read(after.bytes);
  ASSERT_EQ(outer.members.size(), 3u);
  EXPECT_EQ(outer.members[0], Read(source).members[0]);
  EXPECT_EQ(outer.members[2], Read(source).members[2]);
  EXPECT_EQ(outer.members[1].name, "inner.zip");
  EXPECT_EQ(outer.members[1].mtime, 1700000000);
  const ReadBack rewritten_inner = Read(outer.members[1].data);
  EXPECT_EQ(rewritten_inner.format, Read(inner).format);
  EXPECT_EQ(rewritten_inner.members, Without(Read(inner).members, "customers.csv"));
}

TEST(RewriteArchiveTest, DropsThreeLevelsDown) {
  const std::string deep = BuildArchive(archive_write_set_format_cpio_newc, {ARCHIVE_FILTER_XZ},
                                        {File("a", "1"), File("bank.csv", "2")});
  const std::string mid =
      BuildArchive(archive_write_set_format_7zip, {}, {File("deep.cpio.xz", deep), File("m", "3")});
  const std::string source =
      BuildArchive(archive_write_set_format_zip, {}, {File("mid.7z", mid), File("bank.csv", "4")});
  const Rewritten after =
      RunRewrite(source, {{"mid.7z", "deep.cpio.xz", "bank.csv"}, {"bank.csv"}});
  ASSERT_TRUE(after.result.ok()) << after.result.status();
  EXPECT_EQ(after.result->members_kept, 1u);
  const ReadBack outer = Read(after.bytes);
  ASSERT_EQ(outer.members.size(), 1u);
  const ReadBack middle = Read(outer.members[0].data);
  ASSERT_EQ(middle.members.size(), 2u);
  const ReadBack inner = Read(middle.members[0].data);
  EXPECT_EQ(inner.filters, std::vector<std::string>{"xz"});
  EXPECT_EQ(inner.members, Without(Read(deep).members, "bank.csv"));
}

TEST(RewriteArchiveTest, NamesMembersAsTheScannerDoes) {
  // A Unicode name in a zip reads as UTF-8, as the scanner reports it.
  std::string source;
  {
    const ScopedUtf8Locale utf8;
    source = BuildArchive(archive_write_set_format_zip, {},
                          {File("kunden\xc3\xbc"
                                "bersicht.csv",
                                "1"),
                           File("./keep", "2")});
  }
  const Rewritten after = RunRewrite(source, {{"kunden\xc3\xbc"
                                               "bersicht.csv"}});
  ASSERT_TRUE(after.result.ok()) << after.result.status();
  ASSERT_EQ(Read(after.bytes).members.size(), 1u);
  EXPECT_EQ(Read(after.bytes).members[0].name, "./keep");
}

TEST(RewriteArchiveTest, MissingMemberIsNotFound) {
  const std::string inner = BuildArchive(archive_write_set_format_zip, {}, {File("a.csv", "1")});
  const std::string source = BuildArchive(archive_write_set_format_ustar, {ARCHIVE_FILTER_GZIP},
                                          {File("inner.zip", inner), File("plain.txt", "x")});
  for (const std::vector<std::string>& chain : std::vector<std::vector<std::string>>{
           {"nope.csv"}, {"inner.zip", "nope.csv"}, {"plain.txt", "a.csv"}, {"inner.zip/a.csv"}}) {
    const Rewritten after = RunRewrite(source, {{"inner.zip", "a.csv"}, chain});
    EXPECT_EQ(after.result.status().code(), absl::StatusCode::kNotFound) << chain.back();
    EXPECT_TRUE(absl::StrContains(after.result.status().message(), "/srv/source.archive"));
  }
}

TEST(RewriteArchiveTest, TruncatedArchiveIsDataLoss) {
  std::string source = BuildArchive(
      archive_write_set_format_ustar, {ARCHIVE_FILTER_GZIP},
      {File("a.csv", std::string(200000, 'a')), File("b.csv", std::string(1 << 20, 'x') + "tail")});
  source.resize(source.size() / 2);
  const Rewritten after = RunRewrite(source, {{"a.csv"}});
  EXPECT_EQ(after.result.status().code(), absl::StatusCode::kDataLoss) << after.result.status();
}

TEST(RewriteArchiveTest, CompressedSingleFileGoesWhole) {
  const std::string source = BuildArchive(archive_write_set_format_raw, {ARCHIVE_FILTER_GZIP},
                                          {File("customers.csv", "id\n1\n")});
  const Rewritten after = RunRewrite(source, {{"customers.csv"}});
  EXPECT_EQ(after.result.status().code(), absl::StatusCode::kUnimplemented)
      << after.result.status();
  EXPECT_TRUE(IsCompressedSingleFile(after.result.status()));
  // Nested in an archive (named by the scanner's decompressed name), the
  // compressed member is dropped whole and the rest kept.
  const std::string outer = BuildArchive(
      archive_write_set_format_ustar, {},
      {File("customers.csv.gz", source), File("keep.txt", "vendor's own")});
  const Rewritten nested = RunRewrite(outer, {{"customers.csv.gz", "customers.csv"}});
  ASSERT_TRUE(nested.result.ok()) << nested.result.status();
  ASSERT_EQ(nested.result->removed.size(), 1u);
  EXPECT_EQ(nested.result->removed[0], std::vector<std::string>{"customers.csv.gz"});
  const ReadBack kept = Read(nested.bytes);
  ASSERT_EQ(kept.members.size(), 1u);
  EXPECT_FALSE(IsCompressedSingleFile(absl::UnimplementedError("rar")));
}

TEST(RewriteArchiveTest, KeptEncryptedMemberIsDataLoss) {
  const std::string source = BuildArchive(archive_write_set_format_zip, {},
                                          {File("a.csv", "1"), File("b.csv", "2")}, "secret");
  const Rewritten keeps_b = RunRewrite(source, {{"a.csv"}});
  EXPECT_EQ(keeps_b.result.status().code(), absl::StatusCode::kDataLoss) << keeps_b.result.status();
  EXPECT_TRUE(absl::StrContains(keeps_b.result.status().message(), "b.csv"));
  // Dropping needs no passphrase.
  const Rewritten drops_all = RunRewrite(source, {{"a.csv"}, {"b.csv"}});
  ASSERT_TRUE(drops_all.result.ok()) << drops_all.result.status();
  EXPECT_TRUE(Read(drops_all.bytes).members.empty());
}

TEST(RewriteArchiveTest, UnwritableFormatIsUnimplemented) {
  const std::string source =
      BuildArchive(archive_write_set_format_ar_svr4, {}, {File("customers.csv", "id\n1\n")});
  const Rewritten after = RunRewrite(source, {{"customers.csv"}});
  EXPECT_EQ(after.result.status().code(), absl::StatusCode::kUnimplemented)
      << after.result.status();
}

TEST(RewriteArchiveTest, NestedArchiveOverTheLimitIsResourceExhausted) {
  const std::string inner = BuildArchive(archive_write_set_format_zip, {},
                                         {File("customers.stored", std::string(4096, 'c'))});
  ASSERT_GT(inner.size(), 4096u);
  const std::string source =
      BuildArchive(archive_write_set_format_pax, {ARCHIVE_FILTER_GZIP}, {File("inner.zip", inner)});
  const Rewritten after =
      RunRewrite(source, {{"inner.zip", "customers.stored"}}, /*max_inner_bytes=*/4096);
  EXPECT_EQ(after.result.status().code(), absl::StatusCode::kResourceExhausted)
      << after.result.status();
  EXPECT_TRUE(absl::StrContains(after.result.status().message(), "inner.zip"));
}

TEST(RewriteArchiveTest, EmptyChainIsInvalid) {
  const std::string source = BuildArchive(archive_write_set_format_ustar, {}, {File("a", "1")});
  EXPECT_EQ(RunRewrite(source, {{}}).result.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace offboard::agent
