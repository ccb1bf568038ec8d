#include "common/reconcile/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/common/reconcile/reconcile_test_util.h"

namespace offboard::common {
namespace {

using ::offboard::common::testing::Attestation;
using ::offboard::common::testing::File;
using ::offboard::common::testing::Item;
using ::offboard::common::testing::Order;
using ::offboard::common::testing::Sha;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ReconcileContext Context(std::vector<HostOrder> orders = {Order("o-a", "host-a", true)},
                         uint64_t refused = 0) {
  return {.contract_id = "C-1",
          .now = 1000,
          .orders = std::move(orders),
          .refused_attestations = refused};
}

// Inventory of files 1..n of dataset "ds".
std::vector<ExpectedFile> Inventory(int n) {
  std::vector<ExpectedFile> files;
  for (int i = 1; i <= n; ++i) files.push_back(File("ds", i));
  return files;
}

Reconciliation ReconcileAll(ReconcileInput input) {
  absl::StatusOr<Reconciliation> result = Reconcile(std::move(input));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : Reconciliation{};
}

std::vector<FileState> States(const Reconciliation& r) {
  std::vector<FileState> states;
  for (const FileResult& file : r.files) states.push_back(file.state);
  return states;
}

// The strings of reports and attestations; an agent may claim only its
// three levels, never a vendor officer's word.
TEST(AssuranceTest, NamesRoundTripAndAnAgentCannotClaimSelfAttested) {
  for (Assurance level :
       {Assurance::kOverwriteVerified, Assurance::kOverwriteFlash, Assurance::kLogicalOnly}) {
    EXPECT_EQ(ParseAgentAssurance(AssuranceName(level)), level) << AssuranceName(level);
  }
  EXPECT_STREQ(AssuranceName(Assurance::kOverwriteVerified), "overwrite_verified");
  EXPECT_STREQ(AssuranceName(Assurance::kOverwriteFlash), "overwrite_flash");
  EXPECT_STREQ(AssuranceName(Assurance::kLogicalOnly), "logical_only");
  EXPECT_STREQ(AssuranceName(Assurance::kSelfAttested), "self_attested");
  EXPECT_EQ(ParseAgentAssurance("self_attested"), std::nullopt);
  EXPECT_EQ(ParseAgentAssurance("overwrite"), std::nullopt);
}

TEST(ReconcilerTest, EveryFileState) {
  std::vector<ExpectedFile> inventory = Inventory(7);
  inventory.push_back(File("tapes", 8));
  const Reconciliation r = ReconcileAll(
      {.context = Context(),
       .inventory = inventory,
       .attestations = {Attestation(
           "o-a", "host-a",
           {Item({.sha256 = Sha(1), .path = "/1"}),
            Item({.sha256 = Sha(2), .status = "needs_review", .assurance = nullptr, .path = "/2"}),
            Item({.sha256 = Sha(3), .status = "skipped", .assurance = nullptr, .path = "/3"}),
            Item({.sha256 = Sha(4), .status = "failed", .assurance = nullptr, .path = "/4"}),
            Item({.sha256 = Sha(5), .status = "residual", .assurance = nullptr, .path = "/5"})})},
       .self_attestations = {
           {.officer_key_id = "officer-1",
            .predicate = {{"items",
                           {{{"dataset_id", "ds"}, {"sha256", Sha(7)}, {"location", "tape 7"}},
                            {{"dataset_id", "tapes"}, {"location", "vault"}}}}}}}});
  EXPECT_THAT(States(r),
              ElementsAre(FileState::kWiped, FileState::kFoundNotWiped, FileState::kFoundNotWiped,
                          FileState::kFailed, FileState::kResidual, FileState::kNotFound,
                          FileState::kSelfAttested, FileState::kSelfAttested));
  EXPECT_EQ(r.files[0].assurance, Assurance::kOverwriteVerified);
  EXPECT_EQ(r.files[0].path, "/delivered/ds/file1.csv");
  EXPECT_EQ(r.files[6].assurance, Assurance::kSelfAttested);
  EXPECT_EQ(r.files[6].copies, 0u);
  EXPECT_EQ(r.files[5].assurance, std::nullopt);
  EXPECT_EQ(r.count(FileState::kFoundNotWiped), 2u);
  EXPECT_EQ(r.self_attestations, 1u);
  EXPECT_EQ(r.verdict, Verdict::kDiscrepancy);
}

TEST(ReconcilerTest, MostSeriousStatusAcrossHostsWins) {
  const Reconciliation r = ReconcileAll(
      {.context = Context({Order("o-a", "host-a", true), Order("o-b", "host-b", true)}),
       .inventory = Inventory(3),
       .attestations = {
           Attestation("o-a", "host-a",
                       {Item({.sha256 = Sha(1)}), Item({.sha256 = Sha(2), .status = "failed"}),
                        Item({.sha256 = Sha(3), .status = "skipped"})}),
           Attestation(
               "o-b", "host-b",
               {Item({.sha256 = Sha(1), .status = "needs_review"}),
                Item({.sha256 = Sha(2), .status = "residual"}), Item({.sha256 = Sha(3)})})}});
  EXPECT_THAT(States(r), ElementsAre(FileState::kFoundNotWiped, FileState::kResidual,
                                     FileState::kFoundNotWiped));
}

TEST(ReconcilerTest, CopiesCountArchiveMembersAndEachLocationOnce) {
  const Reconciliation r = ReconcileAll(
      {.context = Context({Order("o-a", "host-a", true), Order("o-b", "host-b", true)}),
       .inventory = Inventory(2),
       .attestations = {
           Attestation("o-a", "host-a",
                       {Item({.sha256 = Sha(1), .path = "/srv/a.csv"}),
                        // The same file, also found as a derived copy: one copy.
                        Item({.sha256 = Sha(1), .match = "derived", .path = "/srv/a.csv"}),
                        Item({.sha256 = Sha(1),
                              .match = "archive",
                              .path = "/srv/b.tar",
                              .member = {"in/a.csv"}}),
                        Item({.sha256 = Sha(1),
                              .match = "archive",
                              .path = "/srv/b.tar",
                              .member = {"in/old.zip", "a.csv"}})}),
           // Same path on another host: another copy.
           Attestation("o-b", "host-b", {Item({.sha256 = Sha(1), .path = "/srv/a.csv"})})}});
  EXPECT_EQ(r.files[0].copies, 4u);
  EXPECT_EQ(r.files[0].state, FileState::kWiped);
  EXPECT_EQ(r.files[1].copies, 0u);
  EXPECT_THAT(r.unexpected, IsEmpty());
}

TEST(ReconcilerTest, WeakestAssuranceOfWipedCopiesAndFloor) {
  const Reconciliation r = ReconcileAll(
      {.context = Context(),
       .inventory = Inventory(3),
       .attestations = {Attestation(
           "o-a", "host-a",
           {Item({.sha256 = Sha(1), .path = "/1"}),
            Item({.sha256 = Sha(1), .assurance = "logical_only", .path = "/1-copy"}),
            Item({.sha256 = Sha(1), .assurance = "overwrite_flash", .path = "/1-flash"}),
            Item({.sha256 = Sha(2), .assurance = "overwrite_flash", .path = "/2"}),
            // A wipe that claims nothing is trusted with the least.
            Item({.sha256 = Sha(3), .assurance = nullptr, .path = "/3"})})}});
  EXPECT_EQ(r.files[0].assurance, Assurance::kLogicalOnly);
  EXPECT_EQ(r.files[1].assurance, Assurance::kOverwriteFlash);
  EXPECT_EQ(r.files[2].assurance, Assurance::kLogicalOnly);
  EXPECT_EQ(r.assurance_floor, Assurance::kLogicalOnly);
  EXPECT_EQ(r.verdict, Verdict::kVerifiedComplete);
  EXPECT_THAT(r.reasons, IsEmpty());
}

TEST(ReconcilerTest, VerifiedCompleteWithSelfAttestedFloor) {
  const Reconciliation r =
      ReconcileAll({.context = Context(),
                    .inventory = Inventory(2),
                    .attestations = {Attestation("o-a", "host-a", {Item({.sha256 = Sha(1)})})},
                    .self_attestations = {
                        {.officer_key_id = "officer-1",
                         .predicate = {{"items", {{{"dataset_id", "ds"}, {"sha256", Sha(2)}}}}}}}});
  EXPECT_THAT(States(r), ElementsAre(FileState::kWiped, FileState::kSelfAttested));
  EXPECT_EQ(r.verdict, Verdict::kVerifiedComplete);
  EXPECT_EQ(r.assurance_floor, Assurance::kSelfAttested);
}

TEST(ReconcilerTest, NoFileAccountedForMeansNoFloor) {
  const Reconciliation r = ReconcileAll({.context = Context(), .inventory = Inventory(1)});
  EXPECT_EQ(r.assurance_floor, std::nullopt);
  EXPECT_EQ(r.verdict, Verdict::kIncomplete);
}

TEST(ReconcilerTest, RefusedAttestationIsADiscrepancy) {
  const Reconciliation r =
      ReconcileAll({.context = Context({Order("o-a", "host-a", true)}, /*refused=*/1),
                    .inventory = Inventory(1),
                    .attestations = {Attestation("o-a", "host-a", {Item({.sha256 = Sha(1)})})}});
  EXPECT_EQ(r.verdict, Verdict::kDiscrepancy);
  EXPECT_THAT(r.reasons, ElementsAre("1 attestation refused"));
}

TEST(ReconcilerTest, UnexpectedCopyLeftInPlaceIsADiscrepancy) {
  const Reconciliation r =
      ReconcileAll({.context = Context(),
                    .inventory = Inventory(1),
                    .attestations = {Attestation(
                        "o-a", "host-a",
                        {Item({.sha256 = Sha(1)}), Item({.sha256 = Sha(99),
                                                         .status = "needs_review",
                                                         .assurance = nullptr,
                                                         .match = "derived",
                                                         .path = "/srv/extract.csv"})})}});
  EXPECT_EQ(r.files[0].state, FileState::kWiped);
  ASSERT_EQ(r.unexpected.size(), 1u);
  EXPECT_EQ(r.unexpected[0].path, "/srv/extract.csv");
  EXPECT_EQ(r.unexpected[0].host_id, "host-a");
  EXPECT_EQ(r.unexpected[0].match, "derived");
  EXPECT_TRUE(r.unexpected[0].left_in_place());
  EXPECT_EQ(r.verdict, Verdict::kDiscrepancy);
  EXPECT_THAT(r.reasons, ElementsAre("1 unexpected copy left in place"));
}

TEST(ReconcilerTest, WipedUnexpectedCopiesAreListedButAccountedFor) {
  const Reconciliation r =
      ReconcileAll({.context = Context(),
                    .inventory = Inventory(1),
                    .attestations = {Attestation(
                        "o-a", "host-a",
                        {Item({.sha256 = Sha(1)}),
                         Item({.sha256 = Sha(99), .match = "derived", .path = "/srv/extract.csv"}),
                         // A tagged file whose content is no longer the inventory's.
                         Item({.sha256 = Sha(98), .match = "tag", .path = "/srv/tagged.csv"}),
                         // Derived text that was never hashed.
                         Item({.sha256 = "", .match = "derived", .path = "/srv/notes.txt"}),
                         // The content of ds's file 1, attested under another dataset.
                         Item({.dataset = "other", .sha256 = Sha(1), .path = "/srv/b.csv"})})}});
  ASSERT_EQ(r.unexpected.size(), 4u);
  EXPECT_EQ(r.unexpected[1].match, "tag");
  EXPECT_EQ(r.unexpected[2].sha256, "");
  EXPECT_EQ(r.unexpected[3].dataset_id, "other");
  EXPECT_EQ(r.unexpected_left_in_place, 0u);
  EXPECT_EQ(r.files[0].copies, 1u);
  EXPECT_EQ(r.verdict, Verdict::kVerifiedComplete);
}

// A derived extract wiped only logically (tmpfs) lowers the floor: the
// contract is complete, but not by overwriting everywhere.
TEST(ReconcilerTest, WipedUnexpectedCopiesCountInTheFloor) {
  const Reconciliation r =
      ReconcileAll({.context = Context(),
                    .inventory = Inventory(1),
                    .attestations = {Attestation(
                        "o-a", "host-a",
                        {Item({.sha256 = Sha(1)}), Item({.sha256 = Sha(99),
                                                         .assurance = "logical_only",
                                                         .match = "derived",
                                                         .path = "/dev/shm/extract.csv"})})}});
  EXPECT_EQ(r.files[0].assurance, Assurance::kOverwriteVerified);
  EXPECT_EQ(r.verdict, Verdict::kVerifiedComplete);
  EXPECT_EQ(r.assurance_floor, Assurance::kLogicalOnly);
}

// The parts of one attestation (common/reconcile/attestation_parts.h):
// their items count as they come, but the order is answered only by all of
// them, from one run.
AcceptedAttestation Part(const std::string& run, uint32_t index, uint32_t count,
                         std::vector<nlohmann::json> items, uint64_t log_index) {
  AcceptedAttestation part = Attestation("o-a", "host-a", std::move(items), log_index);
  part.predicate["run_id"] = run;
  part.predicate["part"] = {{"index", index}, {"count", count}};
  return part;
}

TEST(ReconcilerTest, AnOrderIsAnsweredByAllPartsOfOneRun) {
  const auto reconcile = [](std::vector<AcceptedAttestation> parts) {
    return ReconcileAll({.context = Context({Order("o-a", "host-a", false)}),
                         .inventory = Inventory(3),
                         .attestations = std::move(parts)});
  };
  const std::vector<nlohmann::json> first = {Item({.sha256 = Sha(1), .path = "/1"}),
                                             Item({.sha256 = Sha(2), .path = "/2"})};
  const std::vector<nlohmann::json> second = {Item({.sha256 = Sha(3), .path = "/3"})};

  const Reconciliation one_part = reconcile({Part("r-1", 1, 2, first, 0)});
  EXPECT_THAT(States(one_part),
              ElementsAre(FileState::kWiped, FileState::kWiped, FileState::kNotFound));
  EXPECT_THAT(one_part.unanswered_orders, ElementsAre("o-a"));
  EXPECT_EQ(one_part.verdict, Verdict::kIncomplete);

  const Reconciliation both =
      reconcile({Part("r-1", 2, 2, second, 0), Part("r-1", 1, 2, first, 1)});
  EXPECT_THAT(both.unanswered_orders, IsEmpty());
  // Two signed envelopes, one wipe run.
  EXPECT_EQ(both.accepted_attestations, 2u);
  EXPECT_EQ(both.accepted_runs, 1u);
  EXPECT_EQ(both.verdict, Verdict::kVerifiedComplete);

  // Parts of two runs, or of two counts, do not make one attestation.
  const Reconciliation two_runs =
      reconcile({Part("r-1", 1, 2, first, 0), Part("r-2", 2, 2, second, 1)});
  EXPECT_THAT(two_runs.unanswered_orders, ElementsAre("o-a"));
  EXPECT_EQ(two_runs.accepted_runs, 2u);
  EXPECT_THAT(
      reconcile({Part("r-1", 1, 2, first, 0), Part("r-1", 2, 3, second, 1)}).unanswered_orders,
      ElementsAre("o-a"));
  // The same part twice is still one part.
  EXPECT_THAT(
      reconcile({Part("r-1", 1, 2, first, 0), Part("r-1", 1, 2, first, 1)}).unanswered_orders,
      ElementsAre("o-a"));
}

TEST(ReconcilerTest, AMalformedPartIsRefusedNamingTheAttestation) {
  for (const nlohmann::json& bad :
       {nlohmann::json{{"index", 0}, {"count", 2}}, nlohmann::json{{"index", 3}, {"count", 2}},
        nlohmann::json{{"index", 1}}, nlohmann::json{{"index", "1"}, {"count", 1}},
        nlohmann::json{{"index", 1}, {"count", 1.5}}, nlohmann::json{{"index", -1}, {"count", 1}},
        nlohmann::json{{"index", 1}, {"count", 4097}}, nlohmann::json::array({1, 2})}) {
    AcceptedAttestation attestation = Attestation("o-a", "host-a", {}, 4);
    attestation.predicate["part"] = bad;
    const absl::StatusOr<CheckedItems> checked = CheckAttestedItems(attestation);
    ASSERT_FALSE(checked.ok()) << bad.dump();
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(checked.status().message(),
                HasSubstr("attestation 4 (order o-a): predicate \"part\""));
  }
  AcceptedAttestation good = Attestation("o-a", "host-a", {}, 4);
  good.predicate["part"] = {{"index", 4096}, {"count", 4096}};
  good.predicate["run_id"] = "r";
  const absl::StatusOr<CheckedItems> checked = CheckAttestedItems(good);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->part, (AttestationPart{.index = 4096, .count = 4096}));
  EXPECT_EQ(checked->run_id, "r");
}

// The controller reads stored predicates as trees, the verifier in place.
TEST(AttestationPartTest, ReadsTheSameFromATreeAndInPlace) {
  for (const std::string text :
       {R"({})", R"({"part":{"index":2,"count":3}})", R"({"part":{"index":1,"count":1}})",
        R"({"part":{"index":0,"count":3}})", R"({"part":{"index":2,"count":3.0}})",
        R"({"part":{"index":-2,"count":3}})",
        R"({"part":{"index":18446744073709551615,"count":3}})", R"({"part":null})",
        R"({"part":{"count":3,"index":3}})"}) {
    simdjson::dom::parser parser;
    const absl::StatusOr<AttestationPart> in_place = PartOf(SimdView(parser.parse(text).value()));
    const nlohmann::json tree = nlohmann::json::parse(text);
    const absl::StatusOr<AttestationPart> from_tree = PartOf(NlohmannView(&tree));
    ASSERT_EQ(in_place.ok(), from_tree.ok()) << text;
    if (in_place.ok()) {
      EXPECT_EQ(*in_place, *from_tree) << text;
    }
  }
  simdjson::dom::parser parser;
  EXPECT_EQ(
      *PartOf(SimdView(parser.parse(std::string(R"({"part":{"index":2,"count":3}})")).value())),
      (AttestationPart{.index = 2, .count = 3}));
  EXPECT_FALSE(PartOf(SimdView(parser.parse(std::string(R"({"part":null})")).value())).ok());
}

TEST(ReconcilerTest, UnansweredOrderIsIncompleteAndOverdueAfterExpiry) {
  const Reconciliation r = ReconcileAll(
      {.context = Context({Order("o-a", "host-a", false), Order("o-b", "host-b", false, 999),
                           Order("o-c", "host-c", false, 1000)}),
       .inventory = Inventory(1),
       // o-a is answered by its attestation even though the row says not.
       .attestations = {Attestation("o-a", "host-a", {Item({.sha256 = Sha(1)})})}});
  EXPECT_THAT(r.unanswered_orders, ElementsAre("o-b", "o-c"));
  EXPECT_THAT(r.overdue_orders, ElementsAre("o-b"));  // now 1000 is not past 1000
  EXPECT_EQ(r.verdict, Verdict::kIncomplete);
  EXPECT_THAT(r.reasons, ElementsAre("2 orders not yet answered (1 overdue)"));
}

// Every file wiped, but the scan after the wipe could not open an encrypted
// zip: a copy may still be in it, so the contract is not complete.
TEST(ReconcilerTest, PlacesTheScanAfterTheWipeCouldNotExamineKeepItIncomplete) {
  AcceptedAttestation attestation = Attestation("o-a", "host-a", {Item({.sha256 = Sha(1)})});
  attestation.predicate["post_wipe_scan"] = {
      {"errors",
       {{{"path", "/srv/vault/locked.zip"},
         {"reason", "encrypted member not examined (no passphrase)"}}}}};
  const Reconciliation r = ReconcileAll(
      {.context = Context(), .inventory = Inventory(1), .attestations = {attestation}});
  EXPECT_THAT(States(r), ElementsAre(FileState::kWiped));
  EXPECT_EQ(r.unexamined_after_wipe, 1u);
  EXPECT_EQ(r.verdict, Verdict::kIncomplete);
  EXPECT_THAT(r.reasons, ElementsAre("1 place not examined by the scan after the wipe"));

  attestation.predicate["post_wipe_scan"]["errors"] = nlohmann::json::array();
  EXPECT_EQ(
      ReconcileAll({.context = Context(), .inventory = Inventory(1), .attestations = {attestation}})
          .verdict,
      Verdict::kVerifiedComplete);
}

TEST(ReconcilerTest, DiscrepancyOutranksIncomplete) {
  const Reconciliation r = ReconcileAll(
      {.context = Context({Order("o-a", "host-a", true), Order("o-b", "host-b", false)}),
       .inventory = Inventory(2),
       .attestations = {
           Attestation("o-a", "host-a", {Item({.sha256 = Sha(1), .status = "failed"})})}});
  EXPECT_EQ(r.verdict, Verdict::kDiscrepancy);
  EXPECT_THAT(r.reasons, ElementsAre("1 file failed to wipe",
                                     "1 file not found by any agent nor self-attested",
                                     "1 order not yet answered"));
}

TEST(ReconcilerTest, FilesSharingContentShareTheirState) {
  std::vector<ExpectedFile> inventory = Inventory(1);
  inventory.push_back(File("ds", 1));
  inventory[1].path = "/delivered/ds/renamed.csv";
  const Reconciliation r =
      ReconcileAll({.context = Context(),
                    .inventory = inventory,
                    .attestations = {Attestation("o-a", "host-a", {Item({.sha256 = Sha(1)})})}});
  EXPECT_THAT(States(r), ElementsAre(FileState::kWiped, FileState::kWiped));
}

// Two vendors of one contract hold the same dataset and content: vendor A's
// wipe accounts for vendor A's row only. Vendor B's copy stays not_found
// until one of vendor B's hosts attests it, and a copy vendor A holds of
// content only vendor B was given is an unexpected copy.
TEST(ReconcilerTest, OneVendorsWipeNeverAccountsForAnothers) {
  std::vector<ExpectedFile> inventory = {File("ds", 1), File("ds", 1), File("ds", 2)};
  inventory[0].vendor_id = "vendor-a";
  inventory[1].vendor_id = "vendor-b";
  inventory[2].vendor_id = "vendor-b";
  AcceptedAttestation from_a = Attestation(
      "o-a", "host-a", {Item({.sha256 = Sha(1)}), Item({.sha256 = Sha(2), .path = "/srv/b.csv"})});
  from_a.vendor_id = "vendor-a";
  ReconcileInput input{.context = Context({Order("o-a", "host-a", true)}),
                       .inventory = inventory,
                       .attestations = {from_a}};
  const Reconciliation r = ReconcileAll(input);
  EXPECT_THAT(States(r),
              ElementsAre(FileState::kWiped, FileState::kNotFound, FileState::kNotFound));
  ASSERT_EQ(r.unexpected.size(), 1u);
  EXPECT_EQ(r.unexpected[0].path, "/srv/b.csv");
  EXPECT_EQ(r.verdict, Verdict::kIncomplete);

  AcceptedAttestation from_b = Attestation(
      "o-b", "host-b", {Item({.sha256 = Sha(1)}), Item({.sha256 = Sha(2), .path = "/srv/b.csv"})});
  from_b.vendor_id = "vendor-b";
  input.context.orders.push_back(Order("o-b", "host-b", true));
  input.attestations.push_back(from_b);
  const Reconciliation both = ReconcileAll(input);
  EXPECT_THAT(States(both), ElementsAre(FileState::kWiped, FileState::kWiped, FileState::kWiped));
  EXPECT_EQ(both.files[0].copies, 1u);
  EXPECT_EQ(both.files[1].copies, 1u);
  EXPECT_EQ(both.verdict, Verdict::kVerifiedComplete);
}

// A host whose order expired unanswered, or whose agent was replaced, was
// asked again and answered: the earlier order is superseded, not
// outstanding. Only by an answered order issued after it, and an open order
// only when it went to another agent.
TEST(ReconcilerTest, AnExpiredOrderIsSupersededByALaterAnsweredOne) {
  const auto order = [](std::string id, std::string host, bool answered, int64_t issued,
                        int64_t expires) {
    HostOrder o = Order(std::move(id), std::move(host), answered, expires);
    o.vendor_id = "vendor-a";
    o.issued_at = issued;
    return o;
  };
  const auto replaced = [&](std::string id, std::string host, int64_t issued, int64_t expires) {
    HostOrder o = order(std::move(id), std::move(host), false, issued, expires);
    o.agent_id = "agent-before-reinstall";
    return o;
  };
  const Reconciliation r = ReconcileAll(
      {.context = Context(
           {order("o-old", "host-a", false, 100, 500), order("o-new", "host-a", true, 600, 2000),
            // Answered first, then asked again: the later one is still owed.
            order("o-b1", "host-b", true, 100, 500), order("o-b2", "host-b", false, 600, 900),
            // Not expired yet: still expected, whatever else was answered.
            order("o-c1", "host-c", false, 100, 2000), order("o-c2", "host-c", true, 600, 2000),
            // Open, but to an agent since replaced on its host.
            replaced("o-d1", "host-d", 100, 2000), order("o-d2", "host-d", true, 600, 2000)}),
       .inventory = Inventory(1),
       .attestations = {Attestation("o-new", "host-a", {Item({.sha256 = Sha(1)})})}});
  EXPECT_THAT(r.superseded_orders, ElementsAre("o-old", "o-d1"));
  EXPECT_THAT(r.unanswered_orders, ElementsAre("o-b2", "o-c1"));
  EXPECT_THAT(r.overdue_orders, ElementsAre("o-b2"));

  const Reconciliation complete =
      ReconcileAll({.context = Context({order("o-old", "host-a", false, 100, 500),
                                        order("o-new", "host-a", true, 600, 2000)}),
                    .inventory = Inventory(1),
                    .attestations = {Attestation("o-new", "host-a", {Item({.sha256 = Sha(1)})})}});
  EXPECT_EQ(complete.verdict, Verdict::kVerifiedComplete);
  EXPECT_THAT(complete.superseded_orders, ElementsAre("o-old"));
}

// A statement cannot tell two vendors' copies of one dataset apart: on a
// dataset both hold, it covers neither vendor's rows.
TEST(ReconcilerTest, ASelfAttestationCoversNothingOfADatasetTwoVendorsHold) {
  std::vector<ExpectedFile> inventory = {File("ds", 1), File("ds", 2), File("other", 3)};
  inventory[0].vendor_id = "vendor-a";
  inventory[1].vendor_id = "vendor-b";
  inventory[2].vendor_id = "vendor-a";
  const Reconciliation r = ReconcileAll(
      {.context = Context({}),
       .inventory = inventory,
       .self_attestations = {{.officer_key_id = "officer-a",
                              .predicate = {{"items",
                                             {{{"dataset_id", "ds"}},
                                              {{"dataset_id", "other"}, {"sha256", Sha(3)}}}}}}}});
  EXPECT_THAT(States(r),
              ElementsAre(FileState::kNotFound, FileState::kNotFound, FileState::kSelfAttested));
}

// Packages of format 1 are recomputed by the rules they were written under:
// copies matched whatever the vendor, no expired order superseded.
TEST(ReconcilerTest, Format1RulesMatchAcrossVendorsAndSupersedeNothing) {
  std::vector<ExpectedFile> inventory = {File("ds", 1)};
  inventory[0].vendor_id = "vendor-b";
  AcceptedAttestation from_a = Attestation("o-new", "host-a", {Item({.sha256 = Sha(1)})});
  from_a.vendor_id = "vendor-a";
  HostOrder old_order = Order("o-old", "host-a", false, 500);
  HostOrder new_order = Order("o-new", "host-a", true, 2000);
  old_order.issued_at = 100;
  new_order.issued_at = 600;
  ReconcileContext context = Context({old_order, new_order});
  context.rules = ReconcileRules::kFormat1;
  const Reconciliation r =
      ReconcileAll({.context = context, .inventory = inventory, .attestations = {from_a}});
  EXPECT_THAT(States(r), ElementsAre(FileState::kWiped));
  EXPECT_THAT(r.unanswered_orders, ElementsAre("o-old"));
  EXPECT_THAT(r.superseded_orders, IsEmpty());
}

TEST(ReconcilerTest, AttestationsBeforeInventoryGiveTheSameResult) {
  Reconciler reconciler(Context());
  ASSERT_TRUE(
      reconciler
          .AddAttestation(Attestation(
              "o-a", "host-a",
              {Item({.sha256 = Sha(1)}), Item({.sha256 = Sha(2), .path = "/b", .member = {"m"}}),
               Item({.sha256 = Sha(99), .status = "failed", .path = "/x"})}))
          .ok());
  for (ExpectedFile& file : Inventory(2))
    ASSERT_TRUE(reconciler.AddExpectedFile(std::move(file)).ok());
  const Reconciliation r = std::move(reconciler).Finish();
  EXPECT_THAT(States(r), ElementsAre(FileState::kWiped, FileState::kWiped));
  EXPECT_EQ(r.files[1].copies, 1u);
  ASSERT_EQ(r.unexpected.size(), 1u);
  EXPECT_EQ(r.unexpected[0].sha256, Sha(99));
  EXPECT_EQ(r.verdict, Verdict::kDiscrepancy);
}

TEST(ReconcilerTest, MalformedAttestationIsRefusedWhole) {
  Reconciler reconciler(Context());
  for (ExpectedFile& file : Inventory(1))
    ASSERT_TRUE(reconciler.AddExpectedFile(std::move(file)).ok());
  const auto add = [&](nlohmann::json bad_item) {
    return reconciler.AddAttestation(
        Attestation("o-a", "host-a", {Item({.sha256 = Sha(1), .status = "failed"}), bad_item}, 7));
  };
  nlohmann::json item = Item({.sha256 = Sha(1)});
  item["status"] = "gone";
  absl::Status status = add(item);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("attestation 7 (order o-a): items[1].status"));
  item = Item({.sha256 = "ABC"});
  EXPECT_THAT(add(item).message(), HasSubstr("items[1].sha256"));
  item = Item({.sha256 = Sha(1), .assurance = "very_good"});
  EXPECT_THAT(add(item).message(), HasSubstr("items[1].assurance"));
  item = Item({.sha256 = Sha(1), .match = "fuzzy"});
  EXPECT_THAT(add(item).message(), HasSubstr("items[1].match"));
  item.erase("dataset_id");
  EXPECT_THAT(add(item).message(), HasSubstr("items[1].dataset_id"));

  AcceptedAttestation other_order = Attestation("o-a", "host-a", {});
  other_order.predicate["order_id"] = "o-z";
  EXPECT_THAT(reconciler.AddAttestation(other_order).message(), HasSubstr("o-z"));
  other_order.predicate = {{"order_id", "o-a"}};
  EXPECT_THAT(reconciler.AddAttestation(other_order).message(), HasSubstr("\"items\""));

  // Nothing of the refused attestations counted: the file is still not found.
  const Reconciliation r = std::move(reconciler).Finish();
  EXPECT_EQ(r.files[0].state, FileState::kNotFound);
  EXPECT_EQ(r.accepted_attestations, 0u);
}

TEST(ReconcilerTest, MalformedInventoryAndSelfAttestation) {
  Reconciler reconciler(Context());
  ExpectedFile file = testing::File("ds", 1);
  file.sha256[0] = 'A';
  EXPECT_THAT(reconciler.AddExpectedFile(file).message(), HasSubstr("/delivered/ds/file1.csv"));
  file.dataset_id.clear();
  EXPECT_EQ(reconciler.AddExpectedFile(file).code(), absl::StatusCode::kInvalidArgument);
  const absl::Status status = reconciler.AddSelfAttestation(
      {.officer_key_id = "officer-1",
       .predicate = {{"items", {{{"dataset_id", "ds"}, {"sha256", "12"}}}}}});
  EXPECT_THAT(status.message(), HasSubstr("self-attestation by officer-1: items[0].sha256"));
  EXPECT_THAT(std::move(reconciler).Finish().files, IsEmpty());
}

}  // namespace
}  // namespace offboard::common
