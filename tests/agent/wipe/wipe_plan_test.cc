// Tests of the wipe plan: one target per file, the strongest action wins, the
// policy decides archive members and derived copies, and the plan survives
// its round trip through the journal with exact (non-UTF-8) names.
#include "agent/wipe/wipe_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace offboard::agent {
namespace {

Finding MakeFinding(std::string path, MatchKind match, std::vector<std::string> member = {},
                    std::string dataset = "ds-1") {
  Finding finding;
  finding.dataset_id = std::move(dataset);
  finding.sha256 = std::string(64, 'a');
  finding.path = std::move(path);
  finding.member = std::move(member);
  finding.match = match;
  finding.identity = {.device = 1, .inode = 2, .size = 3, .mtime_ns = 4, .link_count = 1};
  return finding;
}

offboard::v1::WipePolicy Policy(offboard::v1::ArchiveMemberAction archive,
                                offboard::v1::DerivedCopyAction derived) {
  offboard::v1::WipePolicy policy;
  policy.set_archive_members(archive);
  policy.set_derived_copies(derived);
  return policy;
}

TEST(WipePlanTest, OneTargetPerFileWithTheStrongestAction) {
  const auto policy = Policy(offboard::v1::ARCHIVE_MEMBER_ACTION_REWRITE_ARCHIVE,
                             offboard::v1::DERIVED_COPY_ACTION_REDACT_RECORDS);
  const WipePlan plan = PlanWipe(
      {MakeFinding("/r/b.tar", MatchKind::kArchive, {"x.csv"}),
       MakeFinding("/r/b.tar", MatchKind::kArchive, {"in.zip", "y.csv"}),
       MakeFinding("/r/a.csv", MatchKind::kDerived),
       MakeFinding("/r/c.csv", MatchKind::kDerived), MakeFinding("/r/c.csv", MatchKind::kExact)},
      policy);
  ASSERT_EQ(plan.targets.size(), 3u);
  EXPECT_EQ(plan.targets[0].path, "/r/a.csv");
  EXPECT_EQ(plan.targets[0].action, WipeAction::kRedactRecords);
  EXPECT_THAT(plan.targets[0].redact_datasets, ::testing::ElementsAre("ds-1"));
  EXPECT_EQ(plan.targets[1].action, WipeAction::kRewriteArchive);
  EXPECT_EQ(plan.targets[1].drop_members.size(), 2u);
  EXPECT_EQ(plan.targets[2].action, WipeAction::kWipeFile);  // exact beats redaction
  EXPECT_EQ(plan.targets[2].findings.size(), 2u);
  EXPECT_THAT(DescribePlan(plan), ::testing::HasSubstr("3 files in the plan"));
}

TEST(WipePlanTest, PolicyChoosesWholeArchiveOrReportOnly) {
  const WipePlan whole = PlanWipe(
      {MakeFinding("/r/b.tar", MatchKind::kArchive, {"x.csv"})},
      Policy(offboard::v1::ARCHIVE_MEMBER_ACTION_WIPE_WHOLE_ARCHIVE,
             offboard::v1::DERIVED_COPY_ACTION_WIPE_WHOLE_FILE));
  EXPECT_EQ(whole.targets[0].action, WipeAction::kWipeFile);
  const WipePlan report = PlanWipe(
      {MakeFinding("/r/b.tar", MatchKind::kArchive, {"x.csv"}),
       MakeFinding("/r/d.csv", MatchKind::kDerived)},
      Policy(offboard::v1::ARCHIVE_MEMBER_ACTION_REPORT_ONLY,
             offboard::v1::DERIVED_COPY_ACTION_REPORT_ONLY));
  EXPECT_EQ(report.targets[0].action, WipeAction::kReportOnly);
  EXPECT_EQ(report.targets[1].action, WipeAction::kReportOnly);
}

TEST(WipePlanTest, RoundTripsThroughJsonWithExactNames) {
  const auto policy = Policy(offboard::v1::ARCHIVE_MEMBER_ACTION_REWRITE_ARCHIVE,
                             offboard::v1::DERIVED_COPY_ACTION_WIPE_WHOLE_FILE);
  const WipePlan plan = PlanWipe({MakeFinding("/r/caf\xE9.tar", MatchKind::kArchive,
                                              {"n\xFFme.zip", "x.csv"})},
                                 policy);
  const nlohmann::json json = PlanToJson(plan);
  (void)json.dump();  // must not throw on the non-UTF-8 names
  absl::StatusOr<WipePlan> back = PlanFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->targets.size(), 1u);
  EXPECT_EQ(back->targets[0].path, "/r/caf\xE9.tar");
  EXPECT_EQ(back->targets[0].drop_members, plan.targets[0].drop_members);
  EXPECT_EQ(back->targets[0].identity.inode, 2u);
  EXPECT_EQ(back->targets[0].findings[0].member, plan.targets[0].findings[0].member);
  EXPECT_FALSE(PlanFromJson(nlohmann::json::object()).ok());
  EXPECT_FALSE(PlanFromJson(nlohmann::json::array({{{"path_hex", "zz"}}})).ok());
}

}  // namespace
}  // namespace offboard::agent
