#include "common/inventory/fingerprint_set.h"

#include <stdlib.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace offboard::common {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

const std::string kKeyHex = "000102030405060708090a0b0c0d0e0f";  // 16 bytes
const std::string kDigestA(64, 'a');
const std::string kDigestB(64, 'b');
const std::string kDigestC(64, 'c');

Json ValidSet() {
  return Json{{"dataset_id", "ds-1"},
              {"hmac_key", kKeyHex},
              {"identifier", "\\b[0-9]{8}\\b"},
              {"min_matches", 2},
              {"digests", {kDigestC, kDigestA, kDigestB}}};
}

// The error message of a parse that must fail with INVALID_ARGUMENT.
std::string ErrorOfText(std::string_view text) {
  const absl::StatusOr<FingerprintSet> set = ParseFingerprintSet(text, "fp.json");
  EXPECT_FALSE(set.ok()) << "parsed:\n" << text;
  if (set.ok()) return "";
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(set.status().message());
}

std::string ErrorOf(const Json& json) { return ErrorOfText(json.dump()); }

// ValidSet() with `key` set to `value`.
Json With(const char* key, Json value) {
  Json json = ValidSet();
  json[key] = std::move(value);
  return json;
}

std::array<uint8_t, 32> Filled(uint8_t byte) {
  std::array<uint8_t, 32> digest;
  digest.fill(byte);
  return digest;
}

TEST(FingerprintSetTest, ParsesValidSet) {
  const absl::StatusOr<FingerprintSet> set = ParseFingerprintSet(ValidSet().dump(2), "fp.json");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->dataset_id, "ds-1");
  ASSERT_EQ(set->hmac_key.size(), 16u);
  EXPECT_EQ(set->hmac_key[0], 0x00);
  EXPECT_EQ(set->hmac_key[15], 0x0f);
  EXPECT_EQ(set->identifier_regex, "\\b[0-9]{8}\\b");
  EXPECT_EQ(set->min_matches, 2u);
  // Sorted.
  EXPECT_THAT(set->digests, ElementsAre(Filled(0xaa), Filled(0xbb), Filled(0xcc)));
}

TEST(FingerprintSetTest, DeduplicatesDigestsAndAcceptsEitherCase) {
  const std::string upper_b(64, 'B');
  const absl::StatusOr<FingerprintSet> set = ParseFingerprintSet(
      With("digests", {kDigestB, kDigestA, upper_b, kDigestA}).dump(), "fp.json");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(set->digests, ElementsAre(Filled(0xaa), Filled(0xbb)));
}

TEST(FingerprintSetTest, RejectsMalformedJsonNamingTheByte) {
  EXPECT_THAT(ErrorOfText(R"({"dataset_id": })"),
              HasSubstr("fp.json: malformed JSON at byte 16: "));
  // Bytes count from 1; the end of input is one past the last byte.
  EXPECT_THAT(ErrorOfText(R"({"dataset_id": "ds-1")"),
              HasSubstr("fp.json: malformed JSON at byte 22: "));
  EXPECT_THAT(ErrorOfText(""), HasSubstr("fp.json: malformed JSON at byte 1: "));
  EXPECT_THAT(ErrorOfText(ValidSet().dump() + " x"), HasSubstr("fp.json: malformed JSON at byte "));
}

TEST(FingerprintSetTest, RejectsNonObject) {
  EXPECT_THAT(ErrorOfText("[1, 2]"), HasSubstr("fp.json: expected a JSON object, got array"));
}

TEST(FingerprintSetTest, RejectsMissingKeys) {
  for (const char* key : {"dataset_id", "hmac_key", "identifier", "min_matches", "digests"}) {
    Json json = ValidSet();
    json.erase(key);
    EXPECT_THAT(ErrorOf(json), HasSubstr(absl::StrCat("fp.json: missing key '", key, "'")));
  }
  EXPECT_THAT(ErrorOfText("{}"), HasSubstr("fp.json: missing keys 'dataset_id', 'hmac_key', "
                                           "'identifier', 'min_matches', 'digests'"));
}

TEST(FingerprintSetTest, RejectsUnknownAndRepeatedKeys) {
  EXPECT_THAT(ErrorOf(With("salt", "00")), HasSubstr("fp.json: unknown key 'salt'"));
  Json json = With("salt", "00");
  json["Digests"] = Json::array();
  EXPECT_THAT(ErrorOf(json), HasSubstr("fp.json: unknown keys 'Digests', 'salt'"));
  const std::string text = ValidSet().dump();
  EXPECT_THAT(ErrorOfText(absl::StrCat(text.substr(0, text.size() - 1), R"(,"min_matches":1})")),
              HasSubstr("fp.json: duplicate key 'min_matches'"));
}

TEST(FingerprintSetTest, RejectsBadDatasetId) {
  EXPECT_THAT(ErrorOf(With("dataset_id", 7)),
              HasSubstr("fp.json: field 'dataset_id': expected a string, got number"));
  EXPECT_THAT(ErrorOf(With("dataset_id", "")),
              HasSubstr("fp.json: field 'dataset_id': must not be empty"));
}

TEST(FingerprintSetTest, RejectsBadHmacKey) {
  EXPECT_THAT(ErrorOf(With("hmac_key", Json::array())),
              HasSubstr("fp.json: field 'hmac_key': expected a string, got array"));
  EXPECT_THAT(ErrorOf(With("hmac_key", "")),
              HasSubstr("fp.json: field 'hmac_key': must not be empty"));
  // The rest of a hex error comes from HexDecode; only its position is ours.
  EXPECT_THAT(ErrorOf(With("hmac_key", "0001020304050607080g0a0b0c0d0e0f")),
              AllOf(HasSubstr("fp.json: field 'hmac_key': "), HasSubstr("position 19")));
  EXPECT_THAT(ErrorOf(With("hmac_key", kKeyHex + "1")),
              AllOf(HasSubstr("fp.json: field 'hmac_key': "), HasSubstr("odd length")));
  EXPECT_THAT(ErrorOf(With("hmac_key", kKeyHex.substr(2))),
              HasSubstr("fp.json: field 'hmac_key': expected at least 16 bytes "
                        "(32 hex digits), got 15 bytes"));
}

TEST(FingerprintSetTest, RejectsBadIdentifier) {
  EXPECT_THAT(ErrorOf(With("identifier", "([0-9]")),
              HasSubstr("fp.json: field 'identifier': not a valid ECMAScript "
                        "regex: "));
  EXPECT_THAT(ErrorOf(With("identifier", "[z-a]")),
              HasSubstr("fp.json: field 'identifier': not a valid ECMAScript "
                        "regex: "));
  EXPECT_THAT(ErrorOf(With("identifier", std::string(600, '(') + "a" + std::string(600, ')'))),
              HasSubstr("fp.json: field 'identifier': longer than 1024 bytes (1201)"));
  EXPECT_THAT(ErrorOf(With("identifier", "")),
              HasSubstr("fp.json: field 'identifier': must not be empty"));
  EXPECT_THAT(ErrorOf(With("identifier", nullptr)),
              HasSubstr("fp.json: field 'identifier': expected a string, got null"));
  // Found by fingerprint_set_fuzz: libstdc++ overflows a long reading these
  // numbers; RE2, which scans, has no back-references anyway.
  EXPECT_THAT(ErrorOf(With("identifier", "B\\9999999999999999999999999")),
              HasSubstr("field 'identifier': back-references and octal escapes (\\9 at byte 1)"));
  EXPECT_THAT(ErrorOf(With("identifier", "(a)\\1")), HasSubstr("back-references"));
  // Valid ECMAScript the agents' RE2 cannot run: refused at import, not at
  // the first wipe order.
  for (const char* lookahead : {R"(CUST-(?=\d))", R"(CUST-(?!0)\d+)"}) {
    EXPECT_THAT(ErrorOf(With("identifier", lookahead)),
                HasSubstr("field 'identifier': uses a feature the agent's scanner cannot run "
                          "(lookaround, backreferences): "))
        << lookahead;
  }
  EXPECT_THAT(ErrorOf(With("identifier", "[0-9]{1,99999999999999999999}")),
              HasSubstr("field 'identifier': a repetition count above 1000 at byte 5"));
  EXPECT_THAT(ErrorOf(With("identifier", "x{1001}")), HasSubstr("a repetition count above 1000"));
  // Escaped braces and digits after other escapes are plain text.
  for (const char* fine : {"\\{99999999999\\}", "ID-\\d{8}", "[0-9]{1000}", "\\bA{2,3}"}) {
    const Json json = With("identifier", fine);
    EXPECT_TRUE(ParseFingerprintSet(json.dump(), "fp.json").ok()) << fine;
  }
}

TEST(FingerprintSetTest, RejectsBadMinMatches) {
  for (const Json& value : {Json(0), Json(-1), Json(2.5), Json(2.0), Json("3"), Json(true),
                            Json(nullptr), Json(4294967296ULL)}) {
    EXPECT_THAT(ErrorOf(With("min_matches", value)),
                HasSubstr("fp.json: field 'min_matches': expected a positive "
                          "integer"))
        << value.dump();
  }
  EXPECT_THAT(ErrorOf(With("min_matches", 4)),
              HasSubstr("fp.json: field 'min_matches': 4 exceeds the number of "
                        "distinct digests (3)"));
  EXPECT_THAT(ErrorOf(With("digests", {kDigestA, kDigestA})),
              HasSubstr("fp.json: field 'min_matches': 2 exceeds the number of "
                        "distinct digests (1)"));
}

TEST(FingerprintSetTest, RejectsBadDigests) {
  EXPECT_THAT(ErrorOf(With("digests", kDigestA)),
              HasSubstr("fp.json: field 'digests': expected an array, got string"));
  EXPECT_THAT(ErrorOf(With("digests", Json::array())),
              HasSubstr("fp.json: field 'digests': expected at least one digest"));
  EXPECT_THAT(ErrorOf(With("digests", {kDigestA, kDigestB, kDigestC.substr(1)})),
              HasSubstr("fp.json: field 'digests[2]': expected 64 hex digits, got "
                        "63 characters"));
  EXPECT_THAT(ErrorOf(With("digests", {kDigestA, kDigestA + "00"})),
              HasSubstr("fp.json: field 'digests[1]': expected 64 hex digits, got "
                        "66 characters"));
  Json digests = Json::array();
  for (int i = 0; i < 17; ++i) digests.push_back(kDigestA);
  digests.push_back("x" + kDigestA.substr(1));
  EXPECT_THAT(ErrorOf(With("digests", digests)),
              AllOf(HasSubstr("fp.json: field 'digests[17]': "), HasSubstr("position 0")));
  EXPECT_THAT(ErrorOf(With("digests", {kDigestA, 12})),
              HasSubstr("fp.json: field 'digests[1]': expected a string, got "
                        "number"));
}

TEST(FingerprintSetTest, RejectsContainerDigests) {
  EXPECT_THAT(ErrorOf(With("digests", {kDigestA, Json::object({{"x", kDigestA}}), 1})),
              HasSubstr("fp.json: field 'digests[1]': expected a string, got object"));
  EXPECT_THAT(ErrorOf(With("digests", {Json::array({kDigestA}), kDigestB})),
              HasSubstr("fp.json: field 'digests[0]': expected a string, got array"));
}

// Digests are checked as they stream past the parser; the errors must still
// come in the order of the checks, not of the bytes.
TEST(FingerprintSetTest, ReportsErrorsInCheckOrderNotFileOrder) {
  const std::string bad_digest = R"({"digests": ["x"], )";
  // A JSON syntax error after a bad digest wins.
  EXPECT_THAT(ErrorOfText(bad_digest + R"("dataset_id": })"),
              HasSubstr("fp.json: malformed JSON at byte "));
  // So do key errors and the fields checked before the digests.
  EXPECT_THAT(ErrorOfText(bad_digest + R"("dataset_id": "ds-1"})"),
              HasSubstr("fp.json: missing keys 'hmac_key', 'identifier', 'min_matches'"));
  Json json = With("dataset_id", "");
  json.erase("digests");
  const std::string rest = json.dump();
  EXPECT_THAT(ErrorOfText(bad_digest + rest.substr(1)),
              HasSubstr("fp.json: field 'dataset_id': must not be empty"));
  // A nested "digests" key is just an unknown value of another key.
  EXPECT_THAT(ErrorOf(With("identifier", Json::object({{"digests", {1}}}))),
              HasSubstr("fp.json: field 'identifier': expected a string, got object"));
}

class ReadFingerprintSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (boost::filesystem::temp_directory_path() / "fingerprint_set_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    boost::system::error_code ignored;
    boost::filesystem::remove_all(dir_, ignored);
  }
  boost::filesystem::path dir_;
};

TEST_F(ReadFingerprintSetTest, MissingFileIsNotFound) {
  const boost::filesystem::path path = dir_ / "missing.json";
  const absl::StatusOr<FingerprintSet> set = ReadFingerprintSet(path);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(set.status().message(), HasSubstr(path.string()));
}

TEST_F(ReadFingerprintSetTest, ReadsFileAndNamesItInErrors) {
  const boost::filesystem::path path = dir_ / "ds-1.json";
  {
    std::ofstream out(path.string(), std::ios::binary);
    out << ValidSet().dump(2) << "\n";
  }
  const absl::StatusOr<FingerprintSet> set = ReadFingerprintSet(path);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->digests.size(), 3u);

  {
    std::ofstream out(path.string(), std::ios::binary);
    out << With("min_matches", 0).dump();
  }
  const absl::StatusOr<FingerprintSet> bad = ReadFingerprintSet(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr(absl::StrCat(path.string(), ": field 'min_matches'")));
}

TEST_F(ReadFingerprintSetTest, ReadsLargeSetsAndNamesTheBadDigest) {
  // About 14 MiB: pages are dropped as the file is parsed.
  constexpr size_t kDigests = 200'000;
  Json json = ValidSet();
  json["digests"] = Json::array();
  for (size_t i = 0; i < kDigests; ++i) {
    json["digests"].push_back(
        absl::StrCat(absl::Hex(i * 0x9E3779B97F4A7C15ull, absl::kZeroPad16), std::string(48, 'a')));
  }
  const boost::filesystem::path path = dir_ / "large.json";
  {
    std::ofstream out(path.string(), std::ios::binary);
    out << json.dump(1);
  }
  const absl::StatusOr<FingerprintSet> set = ReadFingerprintSet(path);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->digests.size(), kDigests);
  EXPECT_TRUE(std::is_sorted(set->digests.begin(), set->digests.end()));
  // Without repeats, no spare capacity that FingerprintIndex would copy to shed.
  EXPECT_EQ(set->digests.capacity(), set->digests.size());

  json["digests"][kDigests - 1] = kDigestA.substr(1) + "g";
  {
    std::ofstream out(path.string(), std::ios::binary);
    out << json.dump(1);
  }
  const absl::StatusOr<FingerprintSet> bad = ReadFingerprintSet(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              AllOf(HasSubstr(absl::StrCat(path.string(), ": field 'digests[199999]': ")),
                    HasSubstr("position 63")));
}

}  // namespace
}  // namespace offboard::common
