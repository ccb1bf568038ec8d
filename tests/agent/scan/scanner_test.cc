// Scanner end to end on real temporary trees: exact copies whatever their
// name, decoys, tags, archives, and the report's JSON.
#include "agent/scan/scanner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "agent/scan/scan_report_json.h"
#include "common/encoding/hex.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kCustomers[] = "id,name\nCUST-00000001,Ada\nCUST-00000002,Grace\n";
constexpr char kAccounts[] = "acct,balance\nA-1,10.00\nA-2,20.00\nA-3,30.00\n";

common::InventoryRecord Record(std::string dataset, absl::string_view content) {
  return common::InventoryRecord{.contract_id = "C-1",
                                 .vendor_id = "V-1",
                                 .dataset_id = std::move(dataset),
                                 .classification = "confidential",
                                 .path = "delivered.csv",
                                 .size = content.size(),
                                 .sha256 = common::DigestHex(common::Sha256Of(content)),
                                 .line = 2};
}

class ScannerTest : public ::testing::Test {
 protected:
  ScannerTest() {
    inventory_.records = {Record("customers", kCustomers), Record("accounts", kAccounts)};
    index_ = std::make_unique<DatasetIndex>(*DatasetIndex::Build(inventory_));
  }

  ScanReport Scan(const std::vector<boost::filesystem::path>& roots, unsigned threads = 2) {
    ScanOptions options;
    options.roots = roots;
    options.threads = threads;
    Scanner scanner(*index_, nullptr, options);
    absl::StatusOr<ScanReport> report = scanner.Run();
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ScanReport{};
  }

  std::string Rel(const std::string& path) const {
    const std::string prefix = boost::filesystem::canonical(dir_.path()).string() + "/";
    return path.starts_with(prefix) ? path.substr(prefix.size()) : path;
  }

  testing::TempDir dir_;
  common::Inventory inventory_;
  std::unique_ptr<DatasetIndex> index_;
};

TEST_F(ScannerTest, FindsRenamedAndMovedCopiesButNotDecoys) {
  dir_.WriteFile("vendor/exports/customers.csv", kCustomers);
  dir_.WriteFile("vendor/tmp/x.bin", kCustomers);          // renamed and moved
  dir_.WriteFile("vendor/a/b/c/no-extension", kAccounts);  // no name hint at all
  std::string decoy = kCustomers;
  decoy[5] = 'X';  // same size, other content
  dir_.WriteFile("vendor/decoy.csv", decoy);
  dir_.WriteFile("vendor/unrelated.txt", "nothing to see");

  const ScanReport report = Scan({dir_.path() / "vendor"});
  ASSERT_EQ(report.findings.size(), 3u);
  EXPECT_EQ(Rel(report.findings[0].path), "vendor/a/b/c/no-extension");
  EXPECT_EQ(report.findings[0].dataset_id, "accounts");
  EXPECT_EQ(Rel(report.findings[1].path), "vendor/exports/customers.csv");
  EXPECT_EQ(Rel(report.findings[2].path), "vendor/tmp/x.bin");
  for (const Finding& finding : report.findings) {
    EXPECT_EQ(finding.match, MatchKind::kExact);
    EXPECT_THAT(finding.member, IsEmpty());
    EXPECT_EQ(finding.identity.link_count, 1u);
  }
  EXPECT_EQ(report.findings[1].sha256, common::DigestHex(common::Sha256Of(kCustomers)));
  EXPECT_THAT(report.errors, IsEmpty());
  EXPECT_EQ(report.stats.files_scanned, 5u);
}

TEST_F(ScannerTest, SameResultWithOneThreadOrMany) {
  for (int i = 0; i < 50; ++i) {
    dir_.WriteFile("vendor/d" + std::to_string(i % 7) + "/f" + std::to_string(i),
                   i % 3 == 0 ? kAccounts : "filler " + std::to_string(i));
  }
  const ScanReport one = Scan({dir_.path() / "vendor"}, 1);
  const ScanReport four = Scan({dir_.path() / "vendor"}, 4);
  ASSERT_EQ(one.findings.size(), 17u);
  ASSERT_EQ(four.findings.size(), one.findings.size());
  for (size_t i = 0; i < one.findings.size(); ++i) {
    EXPECT_EQ(one.findings[i].path, four.findings[i].path);
  }
}

TEST_F(ScannerTest, ATaggedFileIsAFindingEvenWhenItsContentChanged) {
  const auto tagged = dir_.WriteFile("vendor/edited.csv", "rewritten since delivery");
  const auto unknown = dir_.WriteFile("vendor/other.csv", "tagged with a dataset we do not know");
  if (::setxattr(tagged.c_str(), kDatasetXattr, "customers", 9, 0) != 0 ||
      ::setxattr(unknown.c_str(), kDatasetXattr, "payroll", 7, 0) != 0) {
    GTEST_SKIP() << "this filesystem refuses user xattrs";
  }
  const ScanReport report = Scan({dir_.path() / "vendor"});
  ASSERT_EQ(report.findings.size(), 1u);
  EXPECT_EQ(report.findings[0].match, MatchKind::kTag);
  EXPECT_EQ(report.findings[0].dataset_id, "customers");
  EXPECT_EQ(report.findings[0].sha256,
            common::DigestHex(common::Sha256Of(absl::string_view("rewritten since delivery"))));
}

TEST_F(ScannerTest, SymlinksToDataOutsideTheRootAreNotFindings) {
  const auto outside = dir_.WriteFile("outside/customers.csv", kCustomers);
  ::setxattr(outside.c_str(), kDatasetXattr, "customers", 9, 0);
  boost::filesystem::create_directories(dir_.path() / "vendor");
  boost::filesystem::create_symlink(outside, dir_.path() / "vendor/link.csv");
  const ScanReport report = Scan({dir_.path() / "vendor"});
  EXPECT_THAT(report.findings, IsEmpty());
  EXPECT_THAT(report.errors, IsEmpty());
}

TEST_F(ScannerTest, FindsMembersOfACompressedTarball) {
  dir_.WriteFile("stage/export/customers.csv", kCustomers);
  boost::filesystem::create_directories(dir_.path() / "vendor");
  const std::string command = "tar -C '" + (dir_.path() / "stage").string() + "' -czf '" +
                              (dir_.path() / "vendor/backup.tgz").string() + "' export";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const ScanReport report = Scan({dir_.path() / "vendor"});
  ASSERT_EQ(report.findings.size(), 1u) << (report.errors.empty() ? "" : report.errors[0].reason);
  EXPECT_EQ(report.findings[0].match, MatchKind::kArchive);
  EXPECT_EQ(Rel(report.findings[0].path), "vendor/backup.tgz");
  EXPECT_THAT(report.findings[0].member, ::testing::ElementsAre("export/customers.csv"));
  EXPECT_EQ(report.stats.archives_opened, 1u);
}

TEST_F(ScannerTest, SmallPlainTextThatIsNoCandidateIsReadOnce) {
  std::string log;
  while (log.size() < 3000) log += "2024-03-01 INFO request served in 12 ms\n";
  dir_.WriteFile("vendor/app.log", log);
  const ScanReport report = Scan({dir_.path() / "vendor"});
  EXPECT_THAT(report.findings, IsEmpty());
  EXPECT_EQ(report.stats.bytes_read, log.size());
  EXPECT_EQ(report.stats.archives_opened, 0u);
}

// uuencode, as a mail body would carry it: a line per 45 bytes.
std::string UuEncode(absl::string_view data, absl::string_view name) {
  const auto put = [](unsigned value) { return static_cast<char>(value ? value + 0x20 : '`'); };
  std::string out = absl::StrCat("begin 644 ", name, "\n");
  for (size_t start = 0; start < data.size(); start += 45) {
    const absl::string_view line = data.substr(start, 45);
    out += put(static_cast<unsigned>(line.size()));
    for (size_t i = 0; i < line.size(); i += 3) {
      unsigned char b[3] = {0, 0, 0};
      for (size_t k = 0; k < 3 && i + k < line.size(); ++k) b[k] = line[i + k];
      out += put(b[0] >> 2);
      out += put(((b[0] & 3) << 4) | (b[1] >> 4));
      out += put(((b[1] & 15) << 2) | (b[2] >> 6));
      out += put(b[2] & 63);
    }
    out += "\n";
  }
  return out + "`\nend\n";
}

TEST_F(ScannerTest, FindsAUuencodedCopyAfterAPreamble) {
  // Plain text at first sight, so it must not be ruled out by its first bytes.
  dir_.WriteFile("vendor/mail.txt", "Hi, the export you asked for:\n\n" +
                                        UuEncode(kCustomers, "customers.csv") + "\nRegards\n");
  const ScanReport report = Scan({dir_.path() / "vendor"});
  ASSERT_EQ(report.findings.size(), 1u) << (report.errors.empty() ? "" : report.errors[0].reason);
  EXPECT_EQ(report.findings[0].match, MatchKind::kArchive);
  EXPECT_EQ(report.findings[0].dataset_id, "customers");
}

TEST_F(ScannerTest, ATinyCompressedCopyIsStillOpened) {
  // Whatever its first bytes, a compressed stream is never taken for text.
  dir_.WriteFile("stage/customers.csv", kCustomers);
  boost::filesystem::create_directories(dir_.path() / "vendor");
  for (const char* tool : {"gzip", "bzip2", "xz", "zstd -q"}) {
    const std::string command =
        std::string(tool) + " -c '" + (dir_.path() / "stage/customers.csv").string() + "' > '" +
        (dir_.path() / "vendor").string() + "/copy." + std::string(tool).substr(0, 4) + "'";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  const ScanReport report = Scan({dir_.path() / "vendor"});
  EXPECT_EQ(report.findings.size(), 4u);
  for (const Finding& finding : report.findings) EXPECT_EQ(finding.match, MatchKind::kArchive);
}

TEST_F(ScannerTest, OverlappingRootsReportEachCopyOnce) {
  dir_.WriteFile("vendor/inner/customers.csv", kCustomers);
  const ScanReport report = Scan({dir_.path() / "vendor", dir_.path() / "vendor/inner"});
  EXPECT_EQ(report.findings.size(), 1u);
}

TEST_F(ScannerTest, AMissingRootFailsBeforeAnythingIsRead) {
  ScanOptions options;
  options.roots = {dir_.path() / "absent"};
  Scanner scanner(*index_, nullptr, options);
  EXPECT_EQ(scanner.Run().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ScannerTest, ReportJsonKeepsInvalidUtf8NamesExact) {
  const std::string name = std::string("vendor/bad\xff.csv");
  dir_.WriteFile(name, kCustomers);
  const ScanReport report = Scan({dir_.path() / "vendor"});
  ASSERT_EQ(report.findings.size(), 1u);
  const nlohmann::ordered_json json = ScanReportToJson(report);
  const std::string path = json["findings"][0]["path"];
  EXPECT_THAT(path, HasSubstr("bad\xEF\xBF\xBD.csv"));
  EXPECT_EQ(json["findings"][0]["path_hex"], common::HexEncode(report.findings[0].path));
  EXPECT_EQ(json["findings"][0]["match"], "exact");
  EXPECT_EQ(json["stats"]["files_scanned"], 1);
  EXPECT_NO_THROW(json.dump());
}

}  // namespace
}  // namespace offboard::agent
