#include "common/inventory/inventory_csv.h"

#include <stdlib.h>

#include <boost/filesystem.hpp>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

// std::string rather than std::string_view: Debian's absl::StrCat does not
// take std::string_view.
const std::string kHeader = "contract_id,vendor_id,dataset_id,classification,path,size,sha256\n";
const std::string kShaA(64, 'a');
const std::string kShaB(64, 'b');

// One well-formed CSV line; `path` and `size` vary between rows in tests.
std::string Row(const std::string& path, const std::string& size = "10",
                const std::string& sha256 = kShaA) {
  return absl::StrCat("C-1,acme,ds-1,confidential,", path, ",", size, ",", sha256, "\n");
}

absl::StatusOr<Inventory> Parse(std::string_view text) {
  return ParseInventoryCsv(text, "inv.csv");
}

// The error message of a parse that must fail with INVALID_ARGUMENT.
std::string ErrorOf(std::string_view text) {
  const absl::StatusOr<Inventory> inventory = Parse(text);
  EXPECT_FALSE(inventory.ok()) << "parsed " << inventory->records.size() << " records from:\n"
                               << text;
  if (inventory.ok()) return "";
  EXPECT_EQ(inventory.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(inventory.status().message());
}

TEST(InventoryCsvTest, ParsesRecords) {
  const std::string text =
      absl::StrCat(kHeader, Row("/data/a.csv", "0"),
                   "C-1,acme,ds-2,secret,/data/b.csv,18446744073709551615,", kShaB, "\n");
  const absl::StatusOr<Inventory> inventory = Parse(text);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->records.size(), 2u);
  const InventoryRecord& first = inventory->records[0];
  EXPECT_EQ(first.contract_id, "C-1");
  EXPECT_EQ(first.vendor_id, "acme");
  EXPECT_EQ(first.dataset_id, "ds-1");
  EXPECT_EQ(first.classification, "confidential");
  EXPECT_EQ(first.path, "/data/a.csv");
  EXPECT_EQ(first.size, 0u);
  EXPECT_EQ(first.sha256, kShaA);
  EXPECT_EQ(first.line, 2u);
  const InventoryRecord& second = inventory->records[1];
  EXPECT_EQ(second.dataset_id, "ds-2");
  EXPECT_EQ(second.size, UINT64_MAX);
  EXPECT_EQ(second.sha256, kShaB);
  EXPECT_EQ(second.line, 3u);
}

TEST(InventoryCsvTest, HeaderOnlyIsAnEmptyInventory) {
  for (const std::string& text :
       {kHeader, kHeader.substr(0, kHeader.size() - 1), absl::StrCat(kHeader, "\n\r\n")}) {
    const absl::StatusOr<Inventory> inventory = Parse(text);
    ASSERT_TRUE(inventory.ok()) << inventory.status();
    EXPECT_TRUE(inventory->records.empty());
  }
}

TEST(InventoryCsvTest, FinalNewlineIsOptional) {
  std::string text = absl::StrCat(kHeader, Row("/a"), Row("/b", "12"));
  text.pop_back();
  const absl::StatusOr<Inventory> inventory = Parse(text);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->records.size(), 2u);
  EXPECT_EQ(inventory->records[1].sha256, kShaA);
  EXPECT_EQ(inventory->records[1].size, 12u);
}

TEST(InventoryCsvTest, AcceptsCrlfAndMixedLineEndings) {
  std::string text = absl::StrCat(kHeader, Row("/a"), Row("/b"), Row("/c"));
  // CRLF after the header and the first record only: mixed endings.
  text.insert(kHeader.size() - 1, "\r");
  text.insert(text.find(kShaA) + kShaA.size(), "\r");
  const absl::StatusOr<Inventory> inventory = Parse(text);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->records.size(), 3u);
  EXPECT_EQ(inventory->records[0].sha256, kShaA);  // no '\r' kept
  EXPECT_EQ(inventory->records[2].line, 4u);
}

TEST(InventoryCsvTest, SkipsUtf8Bom) {
  const absl::StatusOr<Inventory> inventory =
      Parse(absl::StrCat("\xEF\xBB\xBF", kHeader, Row("/a")));
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->records.size(), 1u);
  EXPECT_EQ(inventory->records[0].contract_id, "C-1");
  EXPECT_EQ(inventory->records[0].line, 2u);
}

TEST(InventoryCsvTest, QuotedFieldsKeepCommasQuotesAndNewlines) {
  const std::string text = absl::StrCat(
      kHeader, "C-1,acme,ds-1,\"internal, restricted\",\"/data/say \"\"hi\"\"\nto\r\nyou.csv\",",
      "\"42\",", kShaA, "\n",  // record on lines 2-4
      Row("/after"),           // line 5
      "\"C-1\",acme,ds-1,x,\"\",\"1\",", kShaA, "\n");
  const absl::StatusOr<Inventory> inventory = Parse(text);
  ASSERT_FALSE(inventory.ok());  // the last record has an empty path
  EXPECT_THAT(inventory.status().message(),
              HasSubstr("inv.csv:6: field 'path': must not be empty"));

  const absl::StatusOr<Inventory> good = Parse(text.substr(0, text.rfind("\"C-1\"")));
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_EQ(good->records.size(), 2u);
  EXPECT_EQ(good->records[0].classification, "internal, restricted");
  EXPECT_EQ(good->records[0].path, "/data/say \"hi\"\nto\r\nyou.csv");
  EXPECT_EQ(good->records[0].size, 42u);
  EXPECT_EQ(good->records[0].line, 2u);
  EXPECT_EQ(good->records[1].path, "/after");
  EXPECT_EQ(good->records[1].line, 5u);
}

TEST(InventoryCsvTest, ErrorLineAccountsForEmbeddedNewlines) {
  const std::string text = absl::StrCat(kHeader, Row("\"/multi\nline\nname\""), Row("/bad", "-1"));
  EXPECT_THAT(ErrorOf(text), HasSubstr("inv.csv:5: field 'size': must not be negative"));
}

TEST(InventoryCsvTest, AcceptsMultibyteUtf8) {
  const absl::StatusOr<Inventory> inventory =
      Parse(absl::StrCat(kHeader, Row("/données/报告/\xF0\x9F\x93\x81.csv")));
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  EXPECT_EQ(inventory->records[0].path, "/données/报告/\xF0\x9F\x93\x81.csv");
}

TEST(InventoryCsvTest, RejectsEmptyFile) {
  for (std::string_view text :
       {std::string_view(""), std::string_view("\xEF\xBB\xBF"), std::string_view("\n\n"),
        std::string_view("\xEF\xBB\xBF \r\n\t\n")}) {
    EXPECT_THAT(ErrorOf(text), HasSubstr("inv.csv:1: empty file: expected header \"contract_id,"
                                         "vendor_id,dataset_id,classification,path,size,sha256\""));
  }
}

TEST(InventoryCsvTest, RejectsWrongHeader) {
  for (const char* header :
       {"vendor_id,contract_id,dataset_id,classification,path,size,sha256\n",
        "contract_id,vendor_id,dataset_id,classification,path,size\n",
        "contract_id,vendor_id,dataset_id,classification,path,size,sha256,x\n",
        "Contract_ID,vendor_id,dataset_id,classification,path,size,sha256\n",
        "contract_id ,vendor_id,dataset_id,classification,path,size,sha256\n",
        "\"contract_id,vendor_id\",dataset_id,classification,path,size,sha256\n",
        "\"contract_id,vendor_id,dataset_id,classification,path,size,sha256\n"}) {
    EXPECT_THAT(ErrorOf(absl::StrCat(header, Row("/a"))),
                HasSubstr("inv.csv:1: expected header \"contract_id,vendor_id,"
                          "dataset_id,classification,path,size,sha256\", got"));
  }
}

TEST(InventoryCsvTest, AcceptsQuotedHeader) {
  // What CSV writers produce with "quote all fields".
  const absl::StatusOr<Inventory> inventory = Parse(absl::StrCat(
      "\"contract_id\",\"vendor_id\",\"dataset_id\",\"classification\",\"path\",\"size\","
      "\"sha256\"\r\n",
      "\"C-1\",\"acme\",\"ds-1\",\"x\",\"/a\",\"1\",\"", kShaA, "\"\r\n"));
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->records.size(), 1u);
  EXPECT_EQ(inventory->records[0].path, "/a");
  EXPECT_EQ(inventory->records[0].line, 2u);
}

TEST(InventoryCsvTest, RejectsMissingAndExtraColumns) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a"), "C-1,acme,ds-1,x,/b,", kShaA, "\n")),
              HasSubstr("inv.csv:3: expected 7 fields, got 6"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a,extra"))),
              HasSubstr("inv.csv:2: expected 7 fields, got 8"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a"), "C-1\n")),
              HasSubstr("inv.csv:3: expected 7 fields, got 1"));
}

TEST(InventoryCsvTest, RejectsEmptyRequiredFields) {
  const std::string sha = absl::StrCat(",1,", kShaA, "\n");
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, ",acme,ds,x,/p", sha)),
              HasSubstr("inv.csv:2: field 'contract_id': must not be empty"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, "c,,ds,x,/p", sha)),
              HasSubstr("inv.csv:2: field 'vendor_id': must not be empty"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, "c,acme,\"\",x,/p", sha)),
              HasSubstr("inv.csv:2: field 'dataset_id': must not be empty"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, "c,acme,ds,,/p", sha)),
              HasSubstr("inv.csv:2: field 'classification': must not be empty"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, "c,acme,ds,x,", sha)),
              HasSubstr("inv.csv:2: field 'path': must not be empty"));
}

TEST(InventoryCsvTest, RejectsBadSizes) {
  const auto with_size = [](const std::string& size) {
    return absl::StrCat(kHeader, Row("/a"), Row("/b", size));
  };
  EXPECT_THAT(ErrorOf(with_size("-5")),
              HasSubstr("inv.csv:3: field 'size': must not be negative, got \"-5\""));
  EXPECT_THAT(ErrorOf(with_size("12a")),
              HasSubstr("inv.csv:3: field 'size': not a number: \"12a\""));
  for (const char* size : {"+5", " 5", "5 ", "1.5", "1e3", "0x10"}) {
    EXPECT_THAT(ErrorOf(with_size(size)), HasSubstr("inv.csv:3: field 'size': not a number"))
        << size;
  }
  EXPECT_THAT(ErrorOf(with_size("")), HasSubstr("inv.csv:3: field 'size': not a number: empty"));
  EXPECT_THAT(ErrorOf(with_size("18446744073709551616")),
              HasSubstr("inv.csv:3: field 'size': too large"));
  EXPECT_THAT(ErrorOf(with_size("99999999999999999999999")),
              HasSubstr("inv.csv:3: field 'size': too large"));
}

TEST(InventoryCsvTest, RejectsBadSha256) {
  const auto with_sha = [](const std::string& sha) {
    return absl::StrCat(kHeader, Row("/a", "1", sha));
  };
  EXPECT_THAT(ErrorOf(with_sha(kShaA.substr(1))),
              HasSubstr("inv.csv:2: field 'sha256': expected 64 lowercase hex "
                        "digits, got 63 characters"));
  EXPECT_THAT(ErrorOf(with_sha(kShaA + "a")),
              HasSubstr("inv.csv:2: field 'sha256': expected 64 lowercase hex "
                        "digits, got 65 characters"));
  EXPECT_THAT(ErrorOf(with_sha("")),
              HasSubstr("inv.csv:2: field 'sha256': expected 64 lowercase hex "
                        "digits, got 0 characters"));
  EXPECT_THAT(ErrorOf(with_sha(std::string(64, 'A'))),
              HasSubstr("inv.csv:2: field 'sha256': must be lowercase hex"));
  EXPECT_THAT(ErrorOf(with_sha("0123456789ABCDEF" + kShaA.substr(16))),
              HasSubstr("inv.csv:2: field 'sha256': must be lowercase hex"));
  EXPECT_THAT(ErrorOf(with_sha("aaaag" + kShaA.substr(5))),
              HasSubstr("inv.csv:2: field 'sha256': expected 64 lowercase hex "
                        "digits, got non-hex character \"g\" at position 4"));
}

TEST(InventoryCsvTest, RejectsDuplicateRows) {
  const std::string text = absl::StrCat(kHeader, Row("/a"), Row("/b"), Row("/c"), Row("/b", "99"));
  EXPECT_THAT(ErrorOf(text), HasSubstr("inv.csv:5: duplicate of line 3"));

  // The same path in another dataset or contract is a different file.
  const absl::StatusOr<Inventory> inventory =
      Parse(absl::StrCat(kHeader, Row("/a"), "C-1,acme,ds-2,x,/a,1,", kShaA, "\n",
                         "C-2,acme,ds-1,x,/a,1,", kShaA, "\n"));
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  EXPECT_EQ(inventory->records.size(), 3u);
}

TEST(InventoryCsvTest, RejectsUnterminatedQuoteAtTheLineWhereItOpened) {
  const std::string text = absl::StrCat(kHeader, Row("/a"), "C-1,acme,ds-1,x,\"/b,1,", kShaA, "\n",
                                        Row("/c"), Row("/d"));
  EXPECT_THAT(ErrorOf(text), HasSubstr("inv.csv:3: field 'path': unterminated quoted field"));
}

TEST(InventoryCsvTest, RejectsStrayQuotes) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a"), Row("/b\"c"))),
              HasSubstr("inv.csv:3: field 'path': quote inside an unquoted field"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("\"/b\"c"))),
              HasSubstr("inv.csv:2: field 'path': unexpected text after a "
                        "closing quote"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("\"/b\" "))),
              HasSubstr("inv.csv:2: field 'path': unexpected text after a "
                        "closing quote"));
}

TEST(InventoryCsvTest, RejectsBareCarriageReturn) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a\r/b"))),
              HasSubstr("inv.csv:2: field 'path': carriage return not followed "
                        "by a line feed"));
}

TEST(InventoryCsvTest, RejectsInvalidUtf8AndNul) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a"), Row("/caf\xE9.csv"))),
              HasSubstr("inv.csv:3: field 'path': invalid UTF-8 at byte offset 4"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, "C-1,acme,ds-1,\xC0\xAF,/a,1,", kShaA, "\n")),
              HasSubstr("inv.csv:2: field 'classification': invalid UTF-8"));  // overlong
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/\xED\xA0\x80"))),
              HasSubstr("inv.csv:2: field 'path': invalid UTF-8"));  // surrogate
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/truncated\xE2\x82"))),
              HasSubstr("inv.csv:2: field 'path': invalid UTF-8"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a"), "C-1,acme\xFF,ds-1,x,/b,1,", kShaA, "\n")),
              HasSubstr("inv.csv:3: field 'vendor_id': invalid UTF-8"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row(std::string("/a\0b", 4)))),
              HasSubstr("inv.csv:2: field 'path': contains a NUL byte"));
}

TEST(InventoryCsvTest, RejectsBlankLineBetweenRecords) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, Row("/a"), "\n", Row("/b"))),
              HasSubstr("inv.csv:3: empty record"));
  EXPECT_THAT(ErrorOf(absl::StrCat(kHeader, "\r\n", Row("/a"))),
              HasSubstr("inv.csv:2: empty record"));
}

TEST(InventoryCsvTest, OneBadRowFailsTheWholeParse) {
  std::string text(kHeader);
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&text, Row(absl::StrCat("/f", i)));
  absl::StrAppend(&text, Row("/last", "x"));
  EXPECT_THAT(ErrorOf(text), HasSubstr("inv.csv:1002: field 'size': not a number"));
}

TEST(InventoryCsvTest, LineNumbersStayRightOverManyRecords) {
  std::string text(kHeader);
  uint64_t line = 2;
  std::vector<uint64_t> expected_lines;
  for (int i = 0; i < 20000; ++i) {
    expected_lines.push_back(line);
    if (i % 7 == 0) {  // a quoted path spanning two lines
      absl::StrAppend(&text, Row(absl::StrCat("\"/dir\n", i, "\"")));
      line += 2;
    } else {
      absl::StrAppend(&text, Row(absl::StrCat("/f", i)));
      line += 1;
    }
    if (i % 5 == 0) text.insert(text.size() - 1, "\r");
  }
  const absl::StatusOr<Inventory> inventory = Parse(text);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->records.size(), expected_lines.size());
  for (size_t i = 0; i < expected_lines.size(); ++i) {
    ASSERT_EQ(inventory->records[i].line, expected_lines[i]) << "record " << i;
  }
}

class ReadInventoryCsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (boost::filesystem::temp_directory_path() / "inventory_csv_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    boost::system::error_code ignored;
    boost::filesystem::remove_all(dir_, ignored);
  }
  boost::filesystem::path dir_;
};

TEST_F(ReadInventoryCsvTest, MissingFileIsNotFound) {
  const boost::filesystem::path path = dir_ / "missing.csv";
  const absl::StatusOr<Inventory> inventory = ReadInventoryCsv(path);
  ASSERT_FALSE(inventory.ok());
  EXPECT_EQ(inventory.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(inventory.status().message(), HasSubstr(path.string()));
}

TEST_F(ReadInventoryCsvTest, DirectoryIsAnErrorNamingIt) {
  const absl::StatusOr<Inventory> inventory = ReadInventoryCsv(dir_);
  ASSERT_FALSE(inventory.ok());
  EXPECT_THAT(std::string(inventory.status().message()), HasSubstr(dir_.string()));
}

TEST_F(ReadInventoryCsvTest, ReadsFileAndNamesItInErrors) {
  const boost::filesystem::path path = dir_ / "inv.csv";
  {
    std::ofstream out(path.string(), std::ios::binary);
    out << kHeader << Row("/a") << Row("/b");
  }
  const absl::StatusOr<Inventory> inventory = ReadInventoryCsv(path);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  EXPECT_EQ(inventory->records.size(), 2u);

  {
    std::ofstream out(path.string(), std::ios::binary | std::ios::app);
    out << Row("/a");
  }
  const absl::StatusOr<Inventory> duplicate = ReadInventoryCsv(path);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(duplicate.status().message(),
              HasSubstr(absl::StrCat(path.string(), ":4: duplicate of line 2")));
}

}  // namespace
}  // namespace offboard::common
