// ForEachInventoryRecord: the streaming reader must see exactly what
// ParseInventoryCsv sees, and keep catching duplicates far apart, on files
// large enough that their pages are dropped while they are parsed.
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/filesystem.hpp>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/inventory/inventory_csv.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

const std::string kHeader = "contract_id,vendor_id,dataset_id,classification,path,size,sha256";

// A 64-digit lowercase hex string that differs with `i`.
std::string Sha(uint64_t i) {
  std::string hex = absl::StrCat(absl::Hex(i * 0x9E3779B97F4A7C15ull, absl::kZeroPad16));
  while (hex.size() < 64) hex += hex;
  return hex.substr(0, 64);
}

// Row `i` of a generated inventory, in one of several spellings: quoted
// fields with commas, "" escapes and line breaks, CRLF endings, multibyte
// UTF-8. Adds the number of line feeds the row holds to `*lines`.
std::string Row(uint64_t i, uint64_t* lines) {
  std::string row;
  switch (i % 5) {
    case 0:
      row = absl::StrCat("C-1,acme,ds-", i % 7, ",confidential,/data/f", i, ".csv,", i, ",", Sha(i),
                         "\n");
      break;
    case 1:  // CRLF, quoted classification with a comma
      row = absl::StrCat("C-1,acme,ds-", i % 7, ",\"internal, restricted\",/data/f", i, ".csv,", i,
                         ",", Sha(i), "\r\n");
      break;
    case 2:  // a quoted path with a line break and "" escapes
      row = absl::StrCat("\"C-2\",acme,ds-", i % 7, ",x,\"/data/say \"\"hi\"\"\r\nf", i,
                         ".csv\",\"", i, "\",", Sha(i), "\n");
      break;
    case 3:  // multibyte UTF-8 and a quoted sha256
      row = absl::StrCat("C-1,acme,ds-", i % 7, ",x,/données/报告/f", i, ".csv,", i, ",\"", Sha(i),
                         "\"\r\n");
      break;
    default:  // two line feeds inside one quoted field
      row = absl::StrCat("C-1,\"ven\ndor\n\",ds-", i % 7, ",x,/data/f", i, ".csv,", i, ",", Sha(i),
                         "\n");
      break;
  }
  for (char c : row) *lines += c == '\n';
  return row;
}

class InventoryStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (boost::filesystem::temp_directory_path() / "inventory_stream_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    boost::system::error_code ignored;
    boost::filesystem::remove_all(dir_, ignored);
  }

  boost::filesystem::path Write(const std::string& text) {
    const boost::filesystem::path path = dir_ / "inv.csv";
    std::ofstream out(path.string(), std::ios::binary);
    out << text;
    return path;
  }

  boost::filesystem::path dir_;
};

std::vector<InventoryRecord> Streamed(const boost::filesystem::path& path, absl::Status* status) {
  std::vector<InventoryRecord> records;
  *status = ForEachInventoryRecord(path, [&](const InventoryRecord& record) {
    records.push_back(record);
    return absl::OkStatus();
  });
  return records;
}

void ExpectSameRecord(const InventoryRecord& a, const InventoryRecord& b, size_t index) {
  ASSERT_EQ(a.contract_id, b.contract_id) << "record " << index;
  ASSERT_EQ(a.vendor_id, b.vendor_id) << "record " << index;
  ASSERT_EQ(a.dataset_id, b.dataset_id) << "record " << index;
  ASSERT_EQ(a.classification, b.classification) << "record " << index;
  ASSERT_EQ(a.path, b.path) << "record " << index;
  ASSERT_EQ(a.size, b.size) << "record " << index;
  ASSERT_EQ(a.sha256, b.sha256) << "record " << index;
  ASSERT_EQ(a.line, b.line) << "record " << index;
}

TEST_F(InventoryStreamTest, YieldsTheRecordsOfParseInventoryCsv) {
  // About 30 MiB: pages are dropped every few MiB as the file is parsed.
  constexpr uint64_t kRows = 250'000;
  std::string text = absl::StrCat("\xEF\xBB\xBF", kHeader, "\r\n");
  uint64_t lines = 1;
  for (uint64_t i = 0; i < kRows; ++i) text += Row(i, &lines);
  text += "\r\n\n";  // trailing blank lines are allowed
  const boost::filesystem::path path = Write(text);

  const absl::StatusOr<Inventory> parsed = ParseInventoryCsv(text, path.string());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->records.size(), kRows);
  EXPECT_EQ(parsed->records.back().line, lines - 2);  // the last row spans 3 lines
  EXPECT_EQ(parsed->records[2].path, "/data/say \"hi\"\r\nf2.csv");

  absl::Status status;
  const std::vector<InventoryRecord> streamed = Streamed(path, &status);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(streamed.size(), kRows);
  for (size_t i = 0; i < kRows; ++i) ExpectSameRecord(streamed[i], parsed->records[i], i);

  // The in-memory overload reads the same.
  size_t count = 0;
  ASSERT_TRUE(ForEachInventoryRecord(text, "inv.csv", [&](const InventoryRecord& record) {
                ExpectSameRecord(record, parsed->records[count], count);
                ++count;
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(count, kRows);
}

TEST_F(InventoryStreamTest, CatchesADuplicateFarFromTheFirst) {
  constexpr uint64_t kFirst = 1'002;  // a multi-line quoted row (i % 5 == 2)
  constexpr uint64_t kRows = 201'003;
  std::string text = absl::StrCat(kHeader, "\n");
  uint64_t lines = 1;
  uint64_t first_line = 0;
  std::string first_row;
  for (uint64_t i = 0; i < kRows; ++i) {
    if (i == kFirst) first_line = lines + 1;
    std::string row = Row(i, &lines);
    if (i == kFirst) first_row = row;
    text += row;
  }
  // 200,001 rows later: the same key, spelled as another row would be but
  // with another size and digest, which do not make it another file.
  const uint64_t duplicate_line = lines + 1;
  text += absl::StrCat("\"C-2\",other,ds-", kFirst % 7,
                       ",y,\"/data/say \"\"hi\"\"\r\nf1002.csv\",1,", Sha(7), "\n");
  text += Row(kRows + 1, &lines);
  const boost::filesystem::path path = Write(text);

  absl::Status status;
  const std::vector<InventoryRecord> streamed = Streamed(path, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr(absl::StrCat(path.string(), ":", duplicate_line, ": duplicate of line ",
                                     first_line, ": same contract_id, dataset_id and path")));
  EXPECT_EQ(streamed.size(), kRows);  // the duplicate never reaches the visitor

  const absl::StatusOr<Inventory> parsed = ParseInventoryCsv(text, path.string());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status(), status);
}

TEST_F(InventoryStreamTest, VisitorErrorStopsTheReading) {
  uint64_t lines = 1;
  const boost::filesystem::path path =
      Write(absl::StrCat(kHeader, "\n", Row(0, &lines), Row(1, &lines), Row(2, &lines)));
  int visited = 0;
  const absl::Status status = ForEachInventoryRecord(path, [&](const InventoryRecord&) {
    return ++visited == 2 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(status, absl::CancelledError("enough"));
  EXPECT_EQ(visited, 2);
}

TEST_F(InventoryStreamTest, ReadsAPipe) {
  // What `--inventory <(zcat inv.csv.gz)` hands over: nothing to map.
  const boost::filesystem::path path = dir_ / "pipe.csv";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  uint64_t lines = 1;
  const std::string text = absl::StrCat(kHeader, "\n", Row(0, &lines), Row(2, &lines));
  std::thread writer([&] { std::ofstream(path.string(), std::ios::binary) << text; });
  absl::Status status;
  const std::vector<InventoryRecord> streamed = Streamed(path, &status);
  writer.join();
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(streamed.size(), 2u);
  EXPECT_EQ(streamed[1].line, 3u);
  EXPECT_EQ(streamed[1].path, "/data/say \"hi\"\r\nf2.csv");
}

TEST_F(InventoryStreamTest, MissingFileIsNotFound) {
  const absl::Status status = ForEachInventoryRecord(
      dir_ / "missing.csv", [](const InventoryRecord&) { return absl::OkStatus(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("missing.csv"));
}

}  // namespace
}  // namespace offboard::common
