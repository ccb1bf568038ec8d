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

TEST(WipeRunTest, AFinishedOrderRunIsHandedOutAgainNotRepeated) {
  testing::TempDir temp;
  const std::string content(5000, 'B');
  const fs::path root = temp.path() / "root";
  const fs::path bank = temp.WriteFile("root/export.csv", content);
  DatasetIndex::Builder builder;
  builder.Add({.contract_id = "c", .vendor_id = "v", .dataset_id = "ds", .classification = "x",
               .path = "export.csv", .size = content.size(),
               .sha256 = common::DigestHex(common::Sha256Of(content)), .line = 2});
  const DatasetIndex index = *std::move(builder).Finish();
  int scans = 0;
  WipeRunRequest request;
  request.roots = {root.string()};
  request.policy =
      *common::LoadWipePolicy(OFFBOARD_TESTDATA_DIR "/../../policies/nist-800-88-clear.textproto");
  request.scan = [&](const ScanOptions& options) {
    ++scans;
    Scanner scanner(index, nullptr, options);
    return scanner.Run();
  };
  request.data_dir = temp.path() / "data";
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

}  // namespace
}  // namespace offboard::agent
