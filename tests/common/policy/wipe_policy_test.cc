#include "common/policy/wipe_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

constexpr char kPoliciesDir[] = OFFBOARD_TESTDATA_DIR "/../../policies";

constexpr char kValid[] = R"(
name: "p"
passes { pattern: PASS_PATTERN_BYTE byte: 170 }
verification: VERIFICATION_ALL
archive_members: ARCHIVE_MEMBER_ACTION_REPORT_ONLY
unwritable_archives: UNWRITABLE_ARCHIVE_ACTION_NEEDS_REVIEW
derived_copies: DERIVED_COPY_ACTION_REDACT_RECORDS
scan_limits { max_archive_depth: 4 max_member_bytes: 100 max_archive_bytes: 1000
              max_compression_ratio: 100 per_file_timeout_seconds: 60 }
)";

TEST(WipePolicyTest, ShippedPoliciesLoadAndSayWhatTheyDo) {
  const auto nist =
      LoadWipePolicy(boost::filesystem::path(kPoliciesDir) / "nist-800-88-clear.textproto");
  ASSERT_TRUE(nist.ok()) << nist.status();
  ASSERT_EQ(nist->passes_size(), 1);
  EXPECT_EQ(nist->passes(0).pattern(), offboard::v1::PASS_PATTERN_RANDOM);
  EXPECT_EQ(nist->verification(), offboard::v1::VERIFICATION_LAST);

  const auto dod = LoadWipePolicy(boost::filesystem::path(kPoliciesDir) / "dod-5220-22m.textproto");
  ASSERT_TRUE(dod.ok()) << dod.status();
  ASSERT_EQ(dod->passes_size(), 3);
  EXPECT_EQ(dod->passes(0).pattern(), offboard::v1::PASS_PATTERN_ZEROS);
  EXPECT_EQ(dod->passes(1).pattern(), offboard::v1::PASS_PATTERN_ONES);
  EXPECT_EQ(dod->passes(2).pattern(), offboard::v1::PASS_PATTERN_RANDOM);

  const auto zero = LoadWipePolicy(boost::filesystem::path(kPoliciesDir) / "zero-fill.textproto");
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->passes(0).pattern(), offboard::v1::PASS_PATTERN_ZEROS);
  EXPECT_EQ(zero->scan_limits().max_archive_depth(), 4u);
}

TEST(WipePolicyTest, ParsesAValidPolicy) {
  const auto policy = ParseWipePolicy(kValid, "p.textproto");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->passes(0).byte(), 170u);
}

TEST(WipePolicyTest, SyntaxErrorsAndUnknownFieldsNameLineAndColumn) {
  EXPECT_THAT(ParseWipePolicy("name: \"p\"\nsparkle: 3\n", "x.textproto").status().message(),
              HasSubstr("x.textproto:2:"));
  EXPECT_THAT(ParseWipePolicy("name: \"p\"\nsparkle: 3\n", "x.textproto").status().message(),
              HasSubstr("sparkle"));
  EXPECT_THAT(ParseWipePolicy("passes { pattern: PASS_PATTERN_PURPLE }", "x").status().message(),
              HasSubstr("PASS_PATTERN_PURPLE"));
}

TEST(WipePolicyTest, MissingOrBadValuesNameTheField) {
  struct Case {
    std::string from;
    std::string to;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"name: \"p\"", "", "field 'name'"},
      // Found by policy_fuzz: text-format escapes let invalid UTF-8 into a
      // string field, which an order could then not carry.
      {"name: \"p\"", "name: \"p\\xff\"", "field 'name': is not valid UTF-8"},
      {"name: \"p\"", "name: \"p\" description: \"\\xc3(\"", "field 'description': is not valid UTF-8"},
      {"passes { pattern: PASS_PATTERN_BYTE byte: 170 }", "", "field 'passes'"},
      {"byte: 170", "byte: 256", "field 'passes[0].byte'"},
      {"PASS_PATTERN_BYTE byte: 170", "PASS_PATTERN_ZEROS byte: 1", "field 'passes[0].byte'"},
      {"verification: VERIFICATION_ALL", "", "field 'verification'"},
      // Proto3 enums are open: a number the enum does not name is refused.
      {"verification: VERIFICATION_ALL", "verification: 7", "field 'verification': unknown value 7"},
      {"derived_copies: DERIVED_COPY_ACTION_REDACT_RECORDS", "derived_copies: 9",
       "field 'derived_copies'"},
      {"PASS_PATTERN_BYTE byte: 170", "5", "field 'passes[0].pattern'"},
      {"archive_members: ARCHIVE_MEMBER_ACTION_REPORT_ONLY", "", "field 'archive_members'"},
      {"derived_copies: DERIVED_COPY_ACTION_REDACT_RECORDS", "", "field 'derived_copies'"},
      {"max_archive_depth: 4", "max_archive_depth: 0", "field 'scan_limits.max_archive_depth'"},
      {"max_archive_bytes: 1000", "max_archive_bytes: 10", "field 'scan_limits.max_archive_bytes'"},
      {"per_file_timeout_seconds: 60", "", "field 'scan_limits.per_file_timeout_seconds'"},
  };
  for (const Case& c : cases) {
    std::string text = kValid;
    text.replace(text.find(c.from), c.from.size(), c.to);
    SCOPED_TRACE(text);
    const auto policy = ParseWipePolicy(text, "p.textproto");
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(policy.status().message(), HasSubstr(c.field));
  }
}

TEST(WipePolicyTest, NameMustMatchTheFileAndMissingFileIsNotFound) {
  offboard::testing::TempDir dir;
  const auto path = dir.WriteFile("other.textproto", kValid);
  EXPECT_THAT(LoadWipePolicy(path).status().message(), HasSubstr("field 'name'"));
  EXPECT_EQ(LoadWipePolicy(dir.path() / "none.textproto").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace offboard::common
