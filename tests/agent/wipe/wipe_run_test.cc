// A whole wipe run on a temporary tree: an order's run that finished is not
// repeated (its attestation is handed out again), so a crash between the end
// of the wipe and the agent's outbox cannot turn a wipe into an attestation of
// nothing left to wipe; another request runs afresh.
#include "agent/wipe/wipe_run.h"

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <string>

#include "agent/scan/dataset_index.h"
#include "common/crypto/sha256.h"
#include "common/policy/wipe_policy.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

// The inventory of one file, export.csv, holding `content`.
DatasetIndex IndexOfExport(const std::string& content) {
  DatasetIndex::Builder builder;
  builder.Add({.contract_id = "c", .vendor_id = "v", .dataset_id = "ds", .classification = "x",
               .path = "export.csv", .size = content.size(),
               .sha256 = common::DigestHex(common::Sha256Of(content)), .line = 2});
  return *std::move(builder).Finish();
}

// A request to wipe under `temp`/root, scanning with `scan`.
WipeRunRequest RequestUnder(const testing::TempDir& temp, ScanFunction scan) {
  WipeRunRequest request;
  request.roots = {(temp.path() / "root").string()};
  request.policy =
      *common::LoadWipePolicy(OFFBOARD_TESTDATA_DIR "/../../policies/nist-800-88-clear.textproto");
  request.scan = std::move(scan);
  request.data_dir = temp.path() / "data";
  return request;
}

TEST(WipeRunTest, AFinishedOrderRunIsHandedOutAgainNotRepeated) {
  testing::TempDir temp;
  const std::string content(5000, 'B');
  const fs::path bank = temp.WriteFile("root/export.csv", content);
  const DatasetIndex index = IndexOfExport(content);
  int scans = 0;
  WipeRunRequest request = RequestUnder(temp, [&](const ScanOptions& options) {
    ++scans;
    Scanner scanner(index, nullptr, options);
    return scanner.Run();
  });
  request.request_digest = "digest-of-order-1";
  request.order_id = "order-1";
  request.nonce_hex = std::string(64, 'a');

  const auto first = ExecuteWipeRun(request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->complete());
  EXPECT_FALSE(fs::exists(bank));
  EXPECT_EQ(scans, 2);

  // The same order again (the agent died before its outbox had the envelope).
  temp.WriteFile("root/export.csv", content);
  const auto again = ExecuteWipeRun(request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_TRUE(again->complete());
  EXPECT_EQ(again->run_id, first->run_id);
  EXPECT_EQ(again->attestation_envelope, first->attestation_envelope);
  EXPECT_EQ(scans, 2);

  // Another order runs afresh and finds the new copy.
  request.request_digest = "digest-of-order-2";
  request.order_id = "order-2";
  const auto second = ExecuteWipeRun(request);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->replayed);
  EXPECT_NE(second->run_id, first->run_id);
  EXPECT_FALSE(fs::exists(bank));
}

// A failure after data was destroyed (here the scan after the wipe) is no
// "bad input, nothing changed": ABORTED, naming the run and its journal; the
// same request then finishes the run without wiping anything twice, and
// still reports what the first scan could not examine.
TEST(WipeRunTest, AFailureAfterTheWipeIsAnUnfinishedRunNotBadInput) {
  testing::TempDir temp;
  const std::string content(5000, 'C');
  const fs::path bank = temp.WriteFile("root/export.csv", content);
  const DatasetIndex index = IndexOfExport(content);
  int scans = 0;
  bool fail_post_scan = true;
  WipeRunRequest request =
      RequestUnder(temp, [&](const ScanOptions& options) -> absl::StatusOr<ScanReport> {
        if (++scans == 2 && fail_post_scan) return absl::InvalidArgumentError("scan root vanished");
        Scanner scanner(index, nullptr, options);
        absl::StatusOr<ScanReport> report = scanner.Run();
        // Something the first scan could not examine, which a later scan
        // would not see again.
        if (scans == 1 && report.ok()) {
          report->errors.push_back(
              {.path = "/x/odd\nname", .member = {"m"}, .reason = "timed out"});
        }
        return report;
      });
  request.request_digest = "digest-of-request";

  const auto failed = ExecuteWipeRun(request);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAborted) << failed.status();
  EXPECT_NE(failed.status().message().find("scan root vanished"), absl::string_view::npos);
  EXPECT_NE(failed.status().message().find("wipe-journal.jsonl"), absl::string_view::npos);
  EXPECT_FALSE(fs::exists(bank));  // the wipe itself had happened

  fail_post_scan = false;
  const auto finished = ExecuteWipeRun(request);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_TRUE(finished->resumed);
  // The first scan's error survives the interruption: the run is not complete.
  ASSERT_EQ(finished->first_scan.errors.size(), 1u);
  EXPECT_EQ(finished->first_scan.errors[0].path, "/x/odd\nname");
  EXPECT_EQ(finished->first_scan.errors[0].member, std::vector<std::string>{"m"});
  EXPECT_EQ(finished->first_scan.errors[0].reason, "timed out");
  EXPECT_FALSE(finished->complete());
  ASSERT_EQ(finished->items.size(), 1u);
  EXPECT_EQ(finished->items[0].finding.path, bank.string());
}

// After the wipe, a copy is residual unless its own item was left in place:
// a failed archive member does not hide another member of the same archive,
// nor another dataset's copy in the same file.
TEST(WipeRunTest, ResidualCopiesAreTheOnesNoItemLeftInPlace) {
  const auto finding = [](std::string path, std::vector<std::string> member, std::string dataset,
                          MatchKind match = MatchKind::kArchive) {
    Finding made;
    made.dataset_id = std::move(dataset);
    made.path = std::move(path);
    made.member = std::move(member);
    made.match = match;
    return made;
  };
  const std::vector<WipeItem> items = {
      {finding("/r/a.tar", {"m1.csv"}, "ds-1"), MakeOutcome(ItemStatus::kFailed, "none", "x")},
      {finding("/r/b.csv", {}, "ds-1", MatchKind::kExact),
       MakeOutcome(ItemStatus::kSkipped, "none", "left in place")},
      {finding("/r/c.csv", {}, "ds-1", MatchKind::kExact),
       MakeOutcome(ItemStatus::kWiped, "overwrite", "")},
  };
  ScanReport post;
  post.findings = {
      finding("/r/a.tar", {"m1.csv"}, "ds-1"),             // the failed member: accounted for
      finding("/r/a.tar", {"m2.csv"}, "ds-1"),             // another member: residual
      finding("/r/b.csv", {}, "ds-1", MatchKind::kTag),    // same copy, found by its tag
      finding("/r/b.csv", {}, "ds-2", MatchKind::kExact),  // another dataset: residual
      finding("/r/c.csv", {}, "ds-1", MatchKind::kExact),  // wiped, yet still there
  };
  const std::vector<WipeItem> residual = ResidualItems(items, post);
  ASSERT_EQ(residual.size(), 3u);
  EXPECT_EQ(residual[0].finding.member, std::vector<std::string>{"m2.csv"});
  EXPECT_EQ(residual[1].finding.dataset_id, "ds-2");
  EXPECT_EQ(residual[2].finding.path, "/r/c.csv");
  for (const WipeItem& item : residual) {
    EXPECT_EQ(item.outcome.status, ItemStatus::kResidual);
  }
}

}  // namespace
}  // namespace offboard::agent
