#include "agent/scan/derived_matcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "tests/support/fingerprint_sets.h"

namespace offboard::agent {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testing::CustomerId;
using testing::CustomerIds;

std::vector<uint8_t> Key(uint8_t seed, size_t size = 32) { return testing::TestKey(seed, size); }
using testing::TestHmac;

common::FingerprintSet MakeSet(std::string dataset_id, std::vector<uint8_t> key, std::string regex,
                               uint32_t min_matches, const std::vector<std::string>& ids) {
  return testing::MakeFingerprintSet(std::move(dataset_id), std::move(key), std::move(regex),
                                     min_matches, ids);
}

// The customers dataset: 1000 records CUST-00000000..CUST-00000999.
common::FingerprintSet Customers(uint32_t min_matches = 5) {
  return MakeSet("customers", Key(1), R"(CUST-\d{8})", min_matches, CustomerIds(0, 1000));
}

FingerprintIndex MustBuild(std::vector<common::FingerprintSet> sets) {
  absl::StatusOr<FingerprintIndex> index = FingerprintIndex::Build(std::move(sets));
  EXPECT_TRUE(index.ok()) << index.status();
  return std::move(index).value();
}

std::vector<DerivedMatch> Scan(const FingerprintIndex& index, const std::string& text,
                               size_t chunk_size = 65536) {
  DerivedMatcher matcher(index);
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t pos = 0; pos < text.size(); pos += chunk_size) {
    matcher.Consume(std::span<const uint8_t>(bytes + pos, std::min(chunk_size, text.size() - pos)));
  }
  return matcher.Finish();
}

auto Match(const std::string& dataset_id, uint64_t records) {
  return AllOf(Field(&DerivedMatch::dataset_id, dataset_id),
               Field(&DerivedMatch::records_matched, records));
}

// A CSV extract: header plus the records with the given ids.
std::string Csv(const std::vector<std::string>& ids) {
  std::string csv = "customer_id,name,since,balance\n";
  for (const std::string& id : ids) csv += id + ",Jane Doe,2024-01-01,1234.56\n";
  return csv;
}

std::vector<std::string> EveryThird(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(CustomerId(i * 3 + 10));
  return ids;
}

TEST(DerivedMatcherTest, ExtractAboveThresholdCountsRecordsExactly) {
  const FingerprintIndex index = MustBuild({Customers(5)});
  EXPECT_THAT(Scan(index, Csv(EveryThird(37))), ElementsAre(Match("customers", 37)));
}

TEST(DerivedMatcherTest, ExtractAtAndBelowThreshold) {
  const FingerprintIndex index = MustBuild({Customers(5)});
  EXPECT_THAT(Scan(index, Csv(EveryThird(5))), ElementsAre(Match("customers", 5)));
  EXPECT_THAT(Scan(index, Csv(EveryThird(4))), IsEmpty());
}

class ChunkSizeTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ChunkSizeTest, IdentifiersSplitAcrossChunksAreFound) {
  const FingerprintIndex index = MustBuild({Customers(5)});
  std::string text = Csv(EveryThird(37));
  text += CustomerId(999);  // last line without a newline
  EXPECT_THAT(Scan(index, text, GetParam()), ElementsAre(Match("customers", 38)));
}

INSTANTIATE_TEST_SUITE_P(Chunks, ChunkSizeTest, ::testing::Values(1, 7, 13, 4096, size_t{1} << 30));

TEST(DerivedMatcherTest, RepeatedIdentifierCountsOnce) {
  const FingerprintIndex index = MustBuild({Customers(3)});
  std::vector<std::string> ids(50, CustomerId(42));
  ids.push_back(CustomerId(7));
  ids.push_back(CustomerId(8));
  EXPECT_THAT(Scan(index, Csv(ids)), ElementsAre(Match("customers", 3)));
}

TEST(DerivedMatcherTest, DecoyIdentifiersDoNotMatch) {
  const FingerprintIndex index = MustBuild({Customers(1)});
  // Same shape, not in the dataset; and dataset ids that the regex cannot see.
  std::string text = Csv(CustomerIds(5000, 200));
  text += "cust-00000001,CUST-0000001,CUST_00000002,CUST-0000000X\n";
  EXPECT_THAT(Scan(index, text), IsEmpty());
  // A dataset key differing from the one the digests were made with.
  common::FingerprintSet other_key = Customers(1);
  other_key.hmac_key = Key(99);
  EXPECT_THAT(Scan(MustBuild({std::move(other_key)}), Csv(EveryThird(20))), IsEmpty());
}

TEST(DerivedMatcherTest, SeveralDatasetsAtOnce) {
  std::vector<std::string> accounts;
  for (int i = 0; i < 100; ++i) accounts.push_back("ACCT-" + std::to_string(100000 + i));
  // "staff" shares the customers' regex (one RE2 pass) with its own key.
  const FingerprintIndex index = MustBuild({
      Customers(5),
      MakeSet("accounts", Key(2), R"(ACCT-\d{6})", 2, accounts),
      MakeSet("staff", Key(3), R"(CUST-\d{8})", 2, CustomerIds(2000, 50)),
  });
  std::string text = "id,account,manager\n";
  for (int i = 0; i < 30; ++i) {
    text += CustomerId(i) + "," + accounts[i % 10] + "," + CustomerId(2000 + i % 4) + "\n";
  }
  EXPECT_THAT(Scan(index, text, 7),
              ElementsAre(Match("customers", 30), Match("accounts", 10), Match("staff", 4)));
}

TEST(DerivedMatcherTest, CapturingGroupIsTheIdentifier) {
  // The digests are of the bare number; the regex needs the "id" key around it.
  std::vector<std::string> numbers;
  for (int i = 0; i < 100; ++i) numbers.push_back(std::to_string(700000 + i));
  const FingerprintIndex index =
      MustBuild({MakeSet("orders", Key(4), R"re("order_id":\s*"(\d{6})")re", 3, numbers)});
  std::string jsonl;
  for (int i = 0; i < 6; ++i) {
    jsonl += R"({"customer":"700001","order_id": ")" + numbers[i * 5] +
             R"(","total":12.5})"
             "\n";
  }
  EXPECT_THAT(Scan(index, jsonl), ElementsAre(Match("orders", 6)));
}

TEST(DerivedMatcherTest, EcmaScriptNamedGroupIsTheIdentifier) {
  const FingerprintIndex index = MustBuild(
      {MakeSet("customers", Key(1), R"([(?<]id=(?<id>CUST-\d{8}))", 2, CustomerIds(0, 10))});
  EXPECT_THAT(Scan(index, "(id=CUST-00000001 <id=CUST-00000002 id=CUST-00000003 CUST-00000004\n"),
              ElementsAre(Match("customers", 2)));
}

TEST(DerivedMatcherTest, AnchorsApplyPerLine) {
  const FingerprintIndex index =
      MustBuild({MakeSet("customers", Key(1), R"(^CUST-\d{8}$)", 1, CustomerIds(0, 10))});
  EXPECT_THAT(Scan(index, "CUST-00000001\nx CUST-00000002\nCUST-00000003\nCUST-00000004 y\n", 3),
              ElementsAre(Match("customers", 2)));
}

TEST(DerivedMatcherTest, NoMatchSpansLines) {
  // [^,]+ would swallow the newline and the next id without never_nl.
  const FingerprintIndex index =
      MustBuild({MakeSet("customers", Key(1), "[^,]+", 1, CustomerIds(0, 10))});
  EXPECT_THAT(Scan(index, "CUST-00000001\nCUST-00000002,x\n"), ElementsAre(Match("customers", 2)));
}

TEST(DerivedMatcherTest, RegexWithoutLiteralPrefix) {
  std::vector<std::string> ssns;
  for (int i = 0; i < 20; ++i) ssns.push_back("123-45-" + std::to_string(6000 + i));
  const FingerprintIndex index =
      MustBuild({MakeSet("people", Key(7), R"(\b\d{3}-\d{2}-\d{4}\b)", 2, ssns)});
  // Inside longer digit runs \b fails, so those are not identifiers.
  const std::string text = "a\t123-45-6001\nb\t9123-45-60020\nc\t123-45-6003\t123-45-6001\n";
  EXPECT_THAT(Scan(index, text, 3), ElementsAre(Match("people", 2)));
}

// Identifiers 100000..100019 (prefix "1") among runs of that prefix: after a
// few failed attempts on a line the rest of it is searched in one pass, which
// must find what the attempts at each "1" would have found, and no more.
TEST(DerivedMatcherTest, LinesDenseWithThePrefixFindTheSameIdentifiers) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(std::to_string(100000 + i));
  const FingerprintIndex index =
      MustBuild({MakeSet("accounts", Key(3), R"(\b1[0-9]{5}\b)", 1, ids)});
  const std::string ones(40, '1');
  // On the first line: 100001 and 100002 after 40 misses, two more after
  // them on the same line, 1100005 (no word boundary) is not one.
  const std::string text = ones + " 100001 " + ones + " 100002,1 1 1 1 1 1 1 1 1 1 1 100003 " +
                           "1100005 100004\n" + "100006 " + ones + "\n" + ones + "\n" +
                           "1 1 1 1 1 1 1 1 1 1 1 100007";
  EXPECT_THAT(Scan(index, text), ElementsAre(Match("accounts", 6)));
  EXPECT_THAT(Scan(index, text, 5), ElementsAre(Match("accounts", 6)));
  // One identifier per line, each after the misses.
  std::string many;
  for (int i = 0; i < 20; ++i) many += ones + " " + std::to_string(100000 + i) + " 1\n";
  EXPECT_THAT(Scan(index, many), ElementsAre(Match("accounts", 20)));
}

// The prefix ("1") is worked out for a match at the start of a text, where
// \b cannot come before "-"; mid-line it can. Such a match ("-100001") is
// not what the attempts at each "1" find ("100001"), however many "1"s come
// first on the line.
TEST(DerivedMatcherTest, DenseLinesFindWhatTheAttemptsAtThePrefixFind) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(std::to_string(100000 + i));
  const FingerprintIndex index =
      MustBuild({MakeSet("accounts", Key(3), R"(\b-?1\d{5}\b)", 1, ids)});
  for (int ones : {0, 3, 9, 40}) {
    std::string text;
    for (int i = 0; i < ones; ++i) text += "1 ";
    text += "ORDER-100001 ORDER-100002\n";
    EXPECT_THAT(Scan(index, text), ElementsAre(Match("accounts", 2))) << ones;
  }
}

TEST(DerivedMatcherTest, AnchoredRegexOnALineDenseWithThePrefix) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(std::to_string(100000 + i));
  const FingerprintIndex index = MustBuild({MakeSet("accounts", Key(3), R"(^1[0-9]{5})", 1, ids)});
  // Only the line starts count, however many "1"s follow them.
  const std::string text = "100001 1 1 1 1 1 1 1 1 1 1 1 1 100002 100003\n" + std::string(30, '1') +
                           " 100004\n100005 1 1 1 1 1 1 1 1 1 1 100006\n";
  EXPECT_THAT(Scan(index, text), ElementsAre(Match("accounts", 2)));
}

TEST(DerivedMatcherTest, NulByteMeansBinaryAndNoMatch) {
  const FingerprintIndex index = MustBuild({Customers(1)});
  std::string text = Csv(EveryThird(30));
  EXPECT_THAT(Scan(index, text + std::string(1, '\0') + "tail\n"), IsEmpty());
  // The NUL arrives after the matches were already counted.
  EXPECT_THAT(Scan(index, text + std::string(1, '\0'), 64), IsEmpty());
}

TEST(DerivedMatcherTest, JsonLinesAndTsv) {
  const FingerprintIndex index = MustBuild({Customers(3)});
  std::string jsonl, tsv = "id\tname\n";
  for (const std::string& id : EveryThird(12)) {
    jsonl += R"({"id":")" + id +
             R"(","name":"Jane Doe","balance":1234.56})"
             "\n";
    tsv += id + "\tJane Doe\n";
  }
  EXPECT_THAT(Scan(index, jsonl, 7), ElementsAre(Match("customers", 12)));
  EXPECT_THAT(Scan(index, tsv, 1), ElementsAre(Match("customers", 12)));
}

TEST(DerivedMatcherTest, OverlongLineIsScannedInPieces) {
  // 1000 ids cycled over a 3 MiB line without a newline: a JSON array dump.
  const FingerprintIndex index = MustBuild({Customers(5)});
  std::string text = "[";
  for (int i = 0; text.size() < (size_t{3} << 20); ++i) text += "\"" + CustomerId(i % 1000) + "\",";
  text += "]";
  EXPECT_THAT(Scan(index, text, 65536), ElementsAre(Match("customers", 1000)));
  EXPECT_THAT(Scan(index, text, 1000003), ElementsAre(Match("customers", 1000)));
}

// A line longer than 1 MiB is scanned in 1 MiB pieces, cut after the last
// delimiter within 4 KiB of the piece's end: an identifier across the piece
// boundary is then whole in the next piece. A delimiter just outside that
// window is not used, and the identifier is split.
TEST(DerivedMatcherTest, AnOverlongLineIsCutOnlyWithinTheLast4KiB) {
  const FingerprintIndex index = MustBuild({Customers(1)});
  constexpr size_t kPiece = size_t{1} << 20;
  const auto line_with_delimiter_at = [&](size_t delimiter) {
    std::string line(kPiece + 100, 'x');
    line[delimiter] = ',';
    line.replace(kPiece - 5, 13, CustomerId(7));  // across the piece boundary
    return line;
  };
  EXPECT_THAT(Scan(index, line_with_delimiter_at(kPiece - 4096)),
              ElementsAre(Match("customers", 1)));
  EXPECT_THAT(Scan(index, line_with_delimiter_at(kPiece - 4097)), IsEmpty());
}

TEST(DerivedMatcherTest, IdentifiersOfEveryLengthAndLongKey) {
  // 1..150 bytes crosses the one-block HMAC fast path (<= 55 bytes); a key
  // longer than a SHA-256 block is hashed first.
  std::vector<std::string> ids;
  for (size_t n = 1; n <= 150; ++n) ids.push_back(std::string(n, static_cast<char>('a' + n % 26)));
  const FingerprintIndex index =
      MustBuild({MakeSet("names", Key(5, 100), R"(<([a-z]+)>)", 1, ids)});
  std::string text;
  for (const std::string& id : ids) text += "<" + id + ">\n";
  EXPECT_THAT(Scan(index, text, 7), ElementsAre(Match("names", 150)));
}

TEST(DerivedMatcherTest, UnsupportedRegexIsRejectedNamingTheDataset) {
  for (const char* regex : {R"((a)\1)", R"(CUST-(?=\d))", R"((?<!x)CUST-\d+)"}) {
    absl::StatusOr<FingerprintIndex> index =
        FingerprintIndex::Build({Customers(), MakeSet("ds-7", Key(6), regex, 1, {"a"})});
    ASSERT_FALSE(index.ok()) << regex;
    EXPECT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(index.status().message(),
                AllOf(HasSubstr("'ds-7'"), HasSubstr("not supported for scanning")));
  }
}

TEST(DerivedMatcherTest, SetThatCouldNeverMatchIsRejected) {
  common::FingerprintSet set = Customers();
  set.min_matches = 0;
  absl::StatusOr<FingerprintIndex> index = FingerprintIndex::Build({std::move(set)});
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(index.status().message(), HasSubstr("'customers'"));
}

TEST(DerivedMatcherTest, EmptyIndexMatchesNothing) {
  const FingerprintIndex index = MustBuild({});
  EXPECT_TRUE(index.empty());
  EXPECT_THAT(Scan(index, Csv(EveryThird(10))), IsEmpty());
}

RecordDetector MustCreate(const FingerprintIndex& index,
                          const absl::flat_hash_set<std::string>& datasets) {
  absl::StatusOr<RecordDetector> detector = RecordDetector::Create(index, datasets);
  EXPECT_TRUE(detector.ok()) << detector.status();
  return std::move(detector).value();
}

TEST(RecordDetectorTest, LineWithARecordOfTheDataset) {
  const FingerprintIndex index = MustBuild({Customers(5)});
  const RecordDetector detector = MustCreate(index, {"customers"});
  EXPECT_TRUE(detector.LineHoldsRecord(CustomerId(7) + ",Jane Doe,2024-01-01,1234.56\n"));
  EXPECT_TRUE(detector.LineHoldsRecord("x;" + CustomerId(999) + "\r\n"));
  EXPECT_TRUE(detector.LineHoldsRecord(CustomerId(0)));  // no line ending
  // The second identifier on the line is the dataset's.
  EXPECT_TRUE(detector.LineHoldsRecord(CustomerId(5000) + "," + CustomerId(3) + "\n"));
  EXPECT_FALSE(detector.LineHoldsRecord("customer_id,name,since,balance\n"));
  EXPECT_FALSE(detector.LineHoldsRecord(CustomerId(5000) + ",Jane Doe\n"));  // decoy
  EXPECT_FALSE(detector.LineHoldsRecord("cust-00000001,CUST-0000001,CUST_00000002\n"));
  EXPECT_FALSE(detector.LineHoldsRecord(""));
}

TEST(RecordDetectorTest, OnlyChosenDatasetsCount) {
  // "staff" shares the customers' regex (one RE2 pass) with its own key.
  const FingerprintIndex index = MustBuild({
      Customers(5),
      MakeSet("staff", Key(3), R"(CUST-\d{8})", 2, CustomerIds(2000, 50)),
  });
  const std::string customer = CustomerId(1) + "\n";
  const std::string staff = CustomerId(2001) + "\n";
  const RecordDetector staff_only = MustCreate(index, {"staff"});
  EXPECT_FALSE(staff_only.LineHoldsRecord(customer));
  EXPECT_TRUE(staff_only.LineHoldsRecord(staff));
  const RecordDetector both = MustCreate(index, {"staff", "customers"});
  EXPECT_TRUE(both.LineHoldsRecord(customer));
  EXPECT_TRUE(both.LineHoldsRecord(staff));
}

TEST(RecordDetectorTest, SameExtractionRulesAsTheMatcher) {
  // Group 1 is the identifier: the bare number elsewhere on the line is not.
  std::vector<std::string> numbers;
  for (int i = 0; i < 10; ++i) numbers.push_back(std::to_string(700000 + i));
  numbers.push_back("");  // an empty identifier is never looked up
  const FingerprintIndex index =
      MustBuild({MakeSet("orders", Key(4), R"re("order_id":\s*"(\d*)")re", 1, numbers)});
  const RecordDetector detector = MustCreate(index, {"orders"});
  EXPECT_TRUE(detector.LineHoldsRecord(R"({"customer":"1","order_id": "700003"})"));
  EXPECT_FALSE(detector.LineHoldsRecord(R"({"customer":"700003","order_id": "123456"})"));
  EXPECT_FALSE(detector.LineHoldsRecord(R"({"customer":"700003","order_id": ""})"));
  // Anchors apply per line.
  const FingerprintIndex anchored =
      MustBuild({MakeSet("customers", Key(1), R"(^CUST-\d{8}$)", 1, CustomerIds(0, 10))});
  const RecordDetector by_line = MustCreate(anchored, {"customers"});
  EXPECT_TRUE(by_line.LineHoldsRecord("CUST-00000001\n"));
  EXPECT_FALSE(by_line.LineHoldsRecord("x CUST-00000002\n"));
}

TEST(RecordDetectorTest, UnknownOrNoDatasetIsRejected) {
  const FingerprintIndex index = MustBuild({Customers(5)});
  absl::StatusOr<RecordDetector> unknown = RecordDetector::Create(index, {"customers", "custmers"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("'custmers'"));
  EXPECT_EQ(RecordDetector::Create(index, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace offboard::agent
