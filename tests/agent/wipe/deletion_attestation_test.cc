// The deletion statement cut into parts for delivery: every item and every
// post-wipe scan error in exactly one part, in order; each part small
// enough, with the run's facts, its own subjects and "part".
#include "agent/wipe/deletion_attestation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "agent/wipe/wipe_outcome.h"
#include "common/policy/wipe_policy.h"

namespace offboard::agent {
namespace {

using ::testing::HasSubstr;

DeletionRun MakeRun(int items, int errors) {
  DeletionRun run;
  run.run_id = "run-7";
  run.order_id = "order-1";
  run.nonce = std::string(64, 'b');
  run.started_at = "2027-01-15T08:00:00Z";
  run.finished_at = "2027-01-15T08:05:00Z";
  run.roots = {"/srv"};
  run.inventory_sha256 = std::string(64, 'c');
  run.agent_key_id = std::string(64, 'd');
  for (int i = 0; i < items; ++i) {
    WipeItem& item = run.items.emplace_back();
    item.finding.dataset_id = "accounts";
    item.finding.sha256 = absl::StrCat(std::string(60, 'a'), absl::Dec(i, absl::kZeroPad4));
    item.finding.path = absl::StrCat("/srv/copies/copy-", i, ".csv");
    // Every third one failed: no subject for it.
    item.outcome = i % 3 == 2 ? MakeOutcome(ItemStatus::kFailed, "overwrite", "read-only")
                              : MakeOutcome(ItemStatus::kWiped, "overwrite", "");
  }
  for (int i = 0; i < errors; ++i) {
    run.post_scan_errors.push_back(
        {.path = absl::StrCat("/srv/locked-", i, ".zip"), .member = {}, .reason = "encrypted"});
  }
  return run;
}

offboard::v1::WipePolicy Policy() {
  return *common::LoadWipePolicy(OFFBOARD_TESTDATA_DIR
                                 "/../../policies/nist-800-88-clear.textproto");
}

TEST(DeletionStatementPartsTest, EveryItemAndErrorIsInExactlyOnePartInOrder) {
  const DeletionRun run = MakeRun(40, 25);
  const common::InTotoStatement whole = BuildDeletionStatement(run, Policy());
  constexpr size_t kBudget = 6000;
  const absl::StatusOr<std::vector<common::InTotoStatement>> parts =
      BuildDeletionStatementParts(run, Policy(), kBudget);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_GT(parts->size(), 3u);
  nlohmann::json items = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  size_t subjects = 0;
  for (size_t i = 0; i < parts->size(); ++i) {
    const common::InTotoStatement& part = (*parts)[i];
    EXPECT_LE(common::SerializeStatement(part).size(), kBudget) << "part " << i + 1;
    EXPECT_EQ(part.predicate["part"], (nlohmann::json{{"index", i + 1}, {"count", parts->size()}}));
    for (const char* shared : {"run_id", "order_id", "nonce", "started_at", "finished_at", "roots",
                               "policy", "host", "agent", "inventory_sha256"}) {
      EXPECT_EQ(part.predicate[shared], whole.predicate[shared]) << shared;
    }
    const nlohmann::json& part_items = part.predicate["items"];
    for (const auto& item : part_items) items.push_back(item);
    for (const auto& error : part.predicate["post_wipe_scan"]["errors"]) errors.push_back(error);
    // Its subjects are its own wiped items', or the inventory when it has none.
    size_t wiped = 0;
    for (const auto& item : part_items) wiped += item["status"] == "wiped" ? 1 : 0;
    if (wiped == 0) {
      ASSERT_EQ(part.subjects.size(), 1u);
      EXPECT_EQ(part.subjects[0].name, "inventory");
    } else {
      EXPECT_EQ(part.subjects.size(), wiped);
      subjects += part.subjects.size();
    }
    EXPECT_EQ(part.predicate["summary"]["wiped"].get<size_t>(), wiped);
  }
  EXPECT_EQ(items, whole.predicate["items"]);
  EXPECT_EQ(errors, whole.predicate["post_wipe_scan"]["errors"]);
  EXPECT_EQ(subjects, whole.subjects.size());
}

TEST(DeletionStatementPartsTest, WhatFitsIsOnePart) {
  const DeletionRun run = MakeRun(5, 2);
  const absl::StatusOr<std::vector<common::InTotoStatement>> parts =
      BuildDeletionStatementParts(run, Policy(), 1 << 20);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].predicate["items"],
            BuildDeletionStatement(run, Policy()).predicate["items"]);
}

TEST(DeletionStatementPartsTest, WhatCannotBeCutIsRefused) {
  DeletionRun run = MakeRun(3, 0);
  const size_t shared =
      common::SerializeStatement(BuildDeletionStatement(MakeRun(0, 0), Policy())).size();
  const auto too_small = BuildDeletionStatementParts(run, Policy(), shared);
  EXPECT_EQ(too_small.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(too_small.status().message(), HasSubstr("run facts alone"));
  run.items[1].finding.path = "/srv/" + std::string(20000, 'x');
  const auto huge_item = BuildDeletionStatementParts(run, Policy(), shared + 10000);
  EXPECT_EQ(huge_item.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(huge_item.status().message(), HasSubstr("item 1 alone"));
}

}  // namespace
}  // namespace offboard::agent
