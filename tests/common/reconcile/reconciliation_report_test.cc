#include "common/reconcile/reconciliation_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "absl/strings/str_split.h"
#include "tests/common/reconcile/reconcile_test_util.h"

namespace offboard::common {
namespace {

using ::offboard::common::testing::Attestation;
using ::offboard::common::testing::File;
using ::offboard::common::testing::Item;
using ::offboard::common::testing::Order;
using ::offboard::common::testing::Sha;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// One wiped, one failed, one not found; an unexpected derived copy left in
// place; one order unanswered and overdue.
Reconciliation Mixed() {
  absl::StatusOr<Reconciliation> r = Reconcile(
      {.context = {.contract_id = "C-7",
                   .now = 5000,
                   .orders = {Order("o-a", "host-a", true), Order("o-b", "host-b", false, 10)},
                   .refused_attestations = 0},
       .inventory = {File("ds", 1), File("ds", 2), File("ds", 3)},
       .attestations = {Attestation(
           "o-a", "host-a",
           {Item({.sha256 = Sha(1), .assurance = "overwrite_flash"}),
            Item({.sha256 = Sha(2), .status = "failed", .assurance = nullptr, .path = "/srv/2"}),
            Item({.sha256 = Sha(9),
                  .status = "needs_review",
                  .assurance = nullptr,
                  .match = "derived",
                  .path = "/srv/x.tar",
                  .member = {"in/extract.csv"}})})}});
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

TEST(ReconciliationReportTest, JsonHasTheInterfaceShape) {
  const nlohmann::ordered_json json = ReconciliationToJson(Mixed());
  EXPECT_EQ(json["contract_id"], "C-7");
  EXPECT_EQ(json["verdict"], "discrepancy");
  EXPECT_EQ(json["assurance_floor"], "overwrite_flash");
  ASSERT_TRUE(json["files"].is_array());
  ASSERT_EQ(json["files"].size(), 3u);
  const nlohmann::ordered_json& file = json["files"][0];
  EXPECT_EQ(file["dataset_id"], "ds");
  EXPECT_EQ(file["sha256"], Sha(1));
  EXPECT_EQ(file["state"], "wiped");
  EXPECT_EQ(file["copies"], 1);
  EXPECT_TRUE(file["copies"].is_number_unsigned());
  EXPECT_EQ(file["assurance"], "overwrite_flash");
  EXPECT_EQ(json["files"][1]["state"], "failed");
  EXPECT_EQ(json["files"][2]["state"], "not_found");
  EXPECT_TRUE(json["files"][2]["assurance"].is_null());
  ASSERT_EQ(json["unexpected_copies"].size(), 1u);
  const nlohmann::ordered_json& copy = json["unexpected_copies"][0];
  EXPECT_EQ(copy["path"], "/srv/x.tar");
  EXPECT_EQ(copy["member"], nlohmann::ordered_json::array({"in/extract.csv"}));
  EXPECT_EQ(copy["match"], "derived");
  EXPECT_EQ(copy["status"], "needs_review");
  EXPECT_EQ(copy["left_in_place"], true);
  EXPECT_EQ(json["overdue_orders"], nlohmann::ordered_json::array({"o-b"}));
  EXPECT_EQ(json["refused_attestations"], 0);
  EXPECT_EQ(json["summary"]["failed"], 1);
  EXPECT_EQ(json["summary"]["not_found"], 1);
  // The fixed keys come first, in INTERFACE.md's order.
  auto it = json.begin();
  EXPECT_EQ(it.key(), "contract_id");
  EXPECT_EQ((++it).key(), "verdict");
  EXPECT_EQ((++it).key(), "assurance_floor");
}

TEST(ReconciliationReportTest, AssuranceFloorIsNullWithoutWipedFiles) {
  Reconciliation r;
  r.contract_id = "C-0";
  r.files.push_back({.dataset_id = "ds", .sha256 = Sha(1), .path = "/a"});
  DecideVerdict(r);
  const nlohmann::ordered_json json = ReconciliationToJson(r);
  EXPECT_TRUE(json["assurance_floor"].is_null());
  EXPECT_EQ(json["verdict"], "incomplete");
  EXPECT_TRUE(json["unexpected_copies"].is_array());
}

TEST(ReconciliationReportTest, StreamedJsonEqualsTheDocument) {
  Reconciliation r = Mixed();
  r.files[0].path = "/odd\xff name\n\"quoted\".csv";  // not UTF-8: replaced, not thrown
  std::ostringstream out;
  WriteReconciliationJson(r, out);
  EXPECT_EQ(out.str(),
            ReconciliationToJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                "\n");
  EXPECT_TRUE(nlohmann::json::accept(out.str()));
}

TEST(ReconciliationReportTest, TableShowsVerdictAndReasonsFirst) {
  const std::string table = ReconciliationTable(Mixed());
  const std::vector<std::string> lines = absl::StrSplit(table, '\n');
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(lines[0], "Verdict: discrepancy (contract C-7)");
  EXPECT_EQ(lines[1], "  - 1 file failed to wipe");
  EXPECT_EQ(lines[2], "  - 1 unexpected copy left in place");
  EXPECT_THAT(table, HasSubstr("Assurance floor: overwrite_flash"));
  EXPECT_THAT(table, HasSubstr("Unanswered orders: o-b (overdue)"));
  EXPECT_THAT(table, HasSubstr("/srv/x.tar!in/extract.csv"));
  // Files not wiped, most serious first; wiped files are not listed.
  const size_t failed = table.find("/srv/2");
  EXPECT_EQ(failed, std::string::npos);  // that is the copy's path, not the file's
  const size_t listed_failed = table.find("/delivered/ds/file2.csv");
  const size_t listed_missing = table.find("/delivered/ds/file3.csv");
  ASSERT_NE(listed_failed, std::string::npos);
  ASSERT_NE(listed_missing, std::string::npos);
  EXPECT_LT(listed_failed, listed_missing);
  EXPECT_THAT(table, Not(HasSubstr("/delivered/ds/file1.csv")));
}

TEST(ReconciliationReportTest, TableCountsAnAttestationInPartsOnce) {
  Reconciliation r = Mixed();
  r.accepted_attestations = 3;
  r.accepted_runs = 3;
  EXPECT_THAT(ReconciliationTable(r), HasSubstr("\nAttestations: 3 accepted, 0 refused;"));
  // Two hosts answered; one sent its attestation in 7 parts.
  r.accepted_attestations = 8;
  r.accepted_runs = 2;
  EXPECT_THAT(ReconciliationTable(r),
              HasSubstr("\nAttestations: 2 accepted (in 8 signed parts), 0 refused;"));
}

TEST(ReconciliationReportTest, TableLimitsRowsAndEscapesControlCharacters) {
  Reconciliation r;
  r.contract_id = "C-1";
  for (int i = 0; i < 5; ++i) {
    r.files.push_back(
        {.dataset_id = "ds", .sha256 = Sha(i), .path = "/a\nVerdict: verified_complete"});
  }
  DecideVerdict(r);
  const std::string table = ReconciliationTable(r, 2);
  EXPECT_THAT(table, StartsWith("Verdict: incomplete"));
  EXPECT_THAT(table, HasSubstr("/a\\x0aVerdict: verified_complete"));
  EXPECT_THAT(table, HasSubstr("... and 3 more (see --json)"));
}

TEST(ReconciliationReportTest, CsvQuotesOddPaths) {
  Reconciliation r;
  r.files.push_back({.dataset_id = "ds",
                     .sha256 = Sha(1),
                     .path = "/plain.csv",
                     .state = FileState::kWiped,
                     .copies = 2,
                     .assurance = Assurance::kLogicalOnly});
  r.files.push_back({.dataset_id = "ds",
                     .sha256 = Sha(2),
                     .path = "/a,b \"c\"\r\nd.csv",
                     .state = FileState::kNotFound,
                     .copies = 0,
                     .assurance = std::nullopt});
  EXPECT_EQ(ReconciliationCsv(r),
            "dataset_id,sha256,path,state,copies,assurance\r\n"
            "ds," +
                Sha(1) +
                ",/plain.csv,wiped,2,logical_only\r\n"
                "ds," +
                Sha(2) + ",\"/a,b \"\"c\"\"\r\nd.csv\",not_found,0,\r\n");
}

}  // namespace
}  // namespace offboard::common
