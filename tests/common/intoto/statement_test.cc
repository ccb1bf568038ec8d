#include "common/intoto/statement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

constexpr char kDigest[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(StatementTest, SerializeThenParseRoundTrips) {
  InTotoStatement statement;
  statement.subjects.push_back({.name = "/srv/data/a.csv", .digest = {{"sha256", kDigest}}});
  statement.subjects.push_back(
      {.name = "/srv/backup.tar.gz!inner/b.csv", .digest = {{"sha256", kDigest}}});
  statement.predicate_type = std::string(kDeletionPredicateType);
  statement.predicate = {{"order_id", "o-1"}, {"passes", 1}};

  const std::string json = SerializeStatement(statement);
  EXPECT_THAT(json, HasSubstr(R"("_type":"https://in-toto.io/Statement/v1")"));
  const absl::StatusOr<InTotoStatement> parsed = ParseStatement(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->subjects.size(), 2u);
  EXPECT_EQ(parsed->subjects[1].name, "/srv/backup.tar.gz!inner/b.csv");
  EXPECT_EQ(parsed->subjects[0].digest.at("sha256"), kDigest);
  EXPECT_EQ(parsed->predicate_type, kDeletionPredicateType);
  EXPECT_EQ(parsed->predicate["order_id"], "o-1");
}

TEST(StatementTest, IgnoresUnknownFields) {
  const absl::StatusOr<InTotoStatement> parsed = ParseStatement(
      std::string(
          R"({"_type":"https://in-toto.io/Statement/v1","future":1,"subject":[{"digest":{"sha256":")") +
      kDigest + R"("}}],"predicateType":"p"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->predicate.empty());
}

TEST(StatementTest, RefusesARepeatedKeyAnywhereNamingWhere) {
  const std::string head = std::string(R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":")") +
                           kDigest + R"("}}],"predicateType":"p",)";
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {head + R"("predicate":{"order_id":"a","order_id":"b"}})",
       "in-toto statement: key \"order_id\" appears twice in predicate"},
      {head + R"("predicate":{"items":[{"path":"x"},{"path":"x","path":"y"}]}})",
       "key \"path\" appears twice in predicate.items[1]"},
      {head + R"("predicateType":"q"})", "key \"predicateType\" appears twice in the top level"},
      {head + R"("predicate":{"":1,"":2}})", "key \"\" appears twice in predicate"},
  };
  simdjson::dom::parser parser;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    const auto tree = ParseStatement(c.json);
    ASSERT_FALSE(tree.ok());
    EXPECT_EQ(tree.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(tree.status().message(), HasSubstr(c.message));
    const auto view = ParseStatementView(c.json, parser);
    ASSERT_FALSE(view.ok());
    EXPECT_THAT(view.status().message(), HasSubstr(c.message));
  }
  // The same key in different objects is fine.
  EXPECT_TRUE(ParseStatement(head + R"("predicate":{"a":{"k":1},"b":{"k":2}}})").ok());
}

TEST(StatementTest, RejectsMalformedStatementsNamingTheField) {
  const std::string good_subject =
      std::string(R"([{"name":"a","digest":{"sha256":")") + kDigest + R"("}}])";
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{", "not valid JSON"},
      {"[]", "top level must be a JSON object"},
      {R"({"subject":)" + good_subject + R"(,"predicateType":"p"})", "field '_type'"},
      {R"({"_type":"https://in-toto.io/Statement/v0.1","subject":)" + good_subject +
           R"(,"predicateType":"p"})",
       "field '_type'"},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"})",
       "field 'subject': must be a non-empty array"},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{}}],"predicateType":"p"})",
       "field 'subject[0].digest'"},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"ABC"}}],"predicateType":"p"})",
       "field 'subject[0].digest.sha256': expected 64 lowercase hex digits"},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":5,"digest":{"sha256":"x"}}],"predicateType":"p"})",
       "field 'subject[0].name'"},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":)" + good_subject + "}",
       "field 'predicateType'"},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":)" + good_subject +
           R"(,"predicateType":"p","predicate":[1]})",
       "field 'predicate': must be an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    const absl::StatusOr<InTotoStatement> parsed = ParseStatement(c.json);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message));
  }
}

// The late-run rule the intake and the verifier share: a run began by the
// deadline when its started_at is there, parses, and is not later.
TEST(StatementTest, RunBeganByReadsStartedAtAsRfc3339) {
  const auto began_by = [](const std::string& predicate, int64_t deadline) {
    simdjson::dom::parser parser;
    return RunBeganBy(SimdView(parser.parse(predicate).value()), deadline);
  };
  constexpr int64_t kStart = 1800000000;  // 2027-01-15T08:00:00Z
  EXPECT_TRUE(began_by(R"({"started_at":"2027-01-15T08:00:00Z"})", kStart));
  EXPECT_TRUE(began_by(R"({"started_at":"2027-01-15T09:00:00+01:00"})", kStart));
  EXPECT_FALSE(began_by(R"({"started_at":"2027-01-15T08:00:01Z"})", kStart));
  EXPECT_FALSE(began_by(R"({"started_at":"yesterday"})", kStart));
  EXPECT_FALSE(began_by(R"({"started_at":1800000000})", kStart));
  EXPECT_FALSE(began_by(R"({})", kStart));
}

}  // namespace
}  // namespace offboard::common
