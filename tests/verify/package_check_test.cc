// The offline verifier against packages the controller exported, and against
// every way of tampering with them that a bank, a vendor or a courier could try.
#include "verify/package_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/filesystem/operations.hpp>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/evidence/evidence_package.h"
#include "common/intoto/statement.h"
#include "common/io/read_file.h"
#include "common/signed/signed_messages.h"
#include "controller/evidence/evidence_export.h"
#include "controller/intake/self_attestation_intake.h"
#include "tests/verify/evidence_fixture.h"

namespace offboard::verify {
namespace {

using ::testing::HasSubstr;
using testing::RawMember;

const std::string kShaA = common::DigestHex(common::Sha256Of("a"));
const std::string kShaB = common::DigestHex(common::Sha256Of("b"));
const std::string kShaC = common::DigestHex(common::Sha256Of("c"));

class PackageCheckTest : public testing::EvidenceFixture {
 protected:
  void SetUp() override {
    EvidenceFixture::SetUp();
    AddInventoryFile("c-1", "exports/a.csv", kShaA);
    AddInventoryFile("c-1", "exports/b.csv", kShaB);
    AddInventoryFile("c-2", "exports/c.csv", kShaC);
    host1_ = Enroll("vendor-a", "host-1");
    host2_ = Enroll("vendor-a", "host-2");
    const auto order1 = IssueOrder(host1_, "c-1");
    const auto order2 = IssueOrder(host2_, "c-1");
    const auto order3 = IssueOrder(host1_, "c-2");
    Attest(host1_, order1, {{"/srv/a.csv", kShaA}});
    Attest(host1_, order3, {{"/srv/c.csv", kShaC}});
    Attest(host2_, order2, {{"/data/b-renamed.csv", kShaB}}, "logical_only");
    package_ = Export("c-1");
  }

  absl::StatusOr<PackageSummary> Check(const boost::filesystem::path& package,
                                       std::optional<boost::filesystem::path> key = std::nullopt) {
    return CheckEvidencePackage(package, {.controller_key = key});
  }

  // c-1 exported again, replacing package_, and checked against the
  // controller key.
  absl::StatusOr<PackageSummary> ExportAndCheck() {
    boost::filesystem::remove(package_);
    package_ = Export("c-1");
    return Check(package_, home_->paths.PublicKey());
  }

  // Writes `members` as a package and checks it.
  absl::Status CheckRaw(const std::vector<RawMember>& members, const std::string& name = "x") {
    const boost::filesystem::path path = temp_.path() / (name + ".tar.gz");
    boost::filesystem::remove(path);
    testing::WriteRawPackage(path, members);
    return Check(path, home_->paths.PublicKey()).status();
  }

  // A new officer key of `vendor`, registered as "NAME".
  common::Ed25519PrivateKey RegisterOfficer(const std::string& vendor, const std::string& name) {
    common::Ed25519PrivateKey officer = *common::Ed25519PrivateKey::Generate();
    EXPECT_TRUE(controller::RegisterOfficerKey(home_->paths.dir / "officers", vendor, name,
                                               officer.PublicKey().ToPem(), 1)
                    .ok());
    return officer;
  }

  // `officer`'s signed statement for contract c-1 that ds-a (only the file
  // with `sha256`, if given) sits shredded in a tape vault.
  static std::string TapeStatement(const common::Ed25519PrivateKey& officer,
                                   const std::string& sha256 = "") {
    nlohmann::json item = {
        {"dataset_id", "ds-a"}, {"location", "tape vault"}, {"statement", "shredded"}};
    if (!sha256.empty()) item["sha256"] = sha256;
    common::InTotoStatement statement;
    statement.predicate_type = std::string(common::kSelfAttestationPredicateType);
    statement.subjects.push_back({.name = "tapes", .digest = {{"sha256", kShaA}}});
    statement.predicate = {{"contract_id", "c-1"}, {"items", nlohmann::json::array({item})}};
    return common::SerializeDsseEnvelope(common::SignDsse(
        common::kInTotoPayloadType, common::SerializeStatement(statement), officer));
  }

  testing::TestAgent host1_, host2_;
  boost::filesystem::path package_;
};

TEST_F(PackageCheckTest, AnExportedPackageVerifies) {
  const auto summary = Check(package_, home_->paths.PublicKey());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->controller_key_given);
  EXPECT_EQ(summary->contract_id, "c-1");
  EXPECT_EQ(summary->enrollments, 2u);
  EXPECT_EQ(summary->orders, 2u);
  EXPECT_EQ(summary->attestations, 2u);
  EXPECT_EQ(summary->files, 2u);
  EXPECT_EQ(summary->tree_size, 3u);  // c-2's attestation is in the log too
  EXPECT_EQ(summary->verdict, common::Verdict::kVerifiedComplete);
  ASSERT_TRUE(summary->assurance_floor.has_value());
  EXPECT_EQ(*summary->assurance_floor, common::Assurance::kLogicalOnly);
  // Without a key given, the package's own is used, and the summary says so.
  const auto self = Check(package_);
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_FALSE(self->controller_key_given);
}

TEST_F(PackageCheckTest, AnotherControllerKeyIsRefused) {
  const common::Ed25519PrivateKey other = *common::Ed25519PrivateKey::Generate();
  const boost::filesystem::path key = temp_.WriteFile("other.pub.pem", other.PublicKey().ToPem());
  const auto summary = Check(package_, key);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(summary.status().message(),
              HasSubstr("manifest.json: manifest: signature: the controller key given"));
  // A package re-signed by another key and carrying that key fails against the real one.
  std::vector<RawMember> members = testing::ToRaw(testing::ReadMembers(package_));
  members[1].bytes = other.PublicKey().ToPem();
  testing::Resign(members, other);
  EXPECT_EQ(CheckRaw(members).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(PackageCheckTest, FlippingAnyByteOfTheManifestFails) {
  const std::vector<RawMember> original = testing::ToRaw(testing::ReadMembers(package_));
  ASSERT_TRUE(CheckRaw(original).ok());
  for (size_t offset = 0; offset < original[0].bytes.size(); offset += 5) {
    std::vector<RawMember> members = original;
    members[0].bytes[offset] ^= 0x01;
    const absl::Status status = CheckRaw(members);
    ASSERT_FALSE(status.ok()) << "manifest byte " << offset;
    EXPECT_THAT(status.message(), HasSubstr("manifest.json")) << offset << ": " << status;
  }
}

TEST_F(PackageCheckTest, FlippingAByteOfAnyOtherMemberNamesIt) {
  const std::vector<RawMember> original = testing::ToRaw(testing::ReadMembers(package_));
  ASSERT_GE(original.size(), 15u);
  for (size_t i = 1; i < original.size(); ++i) {
    const size_t size = original[i].bytes.size();
    for (const size_t offset : {size_t{0}, size / 2, size - 1}) {
      std::vector<RawMember> members = original;
      members[i].bytes[offset] ^= 0x20;
      const absl::Status status = CheckRaw(members);
      ASSERT_FALSE(status.ok()) << original[i].name << " byte " << offset;
      EXPECT_THAT(status.message(), HasSubstr(original[i].name + ": ")) << status;
    }
  }
}

TEST_F(PackageCheckTest, RemovingOrAddingAMemberFails) {
  const std::vector<RawMember> original = testing::ToRaw(testing::ReadMembers(package_));
  for (size_t i = 0; i < original.size(); ++i) {
    std::vector<RawMember> members = original;
    members.erase(members.begin() + static_cast<std::ptrdiff_t>(i));
    const absl::Status status = CheckRaw(members);
    ASSERT_FALSE(status.ok()) << "without " << original[i].name;
    EXPECT_THAT(status.message(), HasSubstr("manifest")) << status;
  }
  std::vector<RawMember> added = original;
  added.push_back({"attestations/000000000099.dsse.json", "{}", ""});
  const absl::Status status = CheckRaw(added);
  EXPECT_THAT(status.message(), HasSubstr("not listed in the manifest")) << status;
}

TEST_F(PackageCheckTest, AnAttestationFromAnotherContractIsRefusedEvenWhenTheBankResigns) {
  const auto other = testing::ReadMembers(Export("c-2"));
  const auto find = [](const auto& members, absl::string_view prefix) {
    for (const auto& m : members) {
      if (absl::StartsWith(m.name, prefix)) return m;
    }
    return common::PackageMember{};
  };
  const common::PackageMember foreign = find(other, "attestations/");
  const common::PackageMember foreign_receipt = find(other, "receipts/");
  ASSERT_FALSE(foreign.name.empty());

  // In place of one of c-1's attestations: its bytes are not the logged leaf.
  std::vector<RawMember> swapped = testing::ToRaw(testing::ReadMembers(package_));
  for (RawMember& m : swapped) {
    if (absl::StartsWith(m.name, "attestations/")) {
      m.bytes = foreign.bytes;
      break;
    }
  }
  testing::Resign(swapped, home_->key);
  absl::Status status = CheckRaw(swapped, "swapped");
  EXPECT_THAT(status.message(), HasSubstr("not the leaf its receipt proves")) << status;

  // Added with its own receipt: the order it answers is not this contract's.
  std::vector<RawMember> added = testing::ToRaw(testing::ReadMembers(package_));
  std::vector<RawMember> rebuilt;
  for (RawMember& m : added) {
    if (m.name == "inventory.csv")
      rebuilt.push_back({foreign_receipt.name, foreign_receipt.bytes, ""});
    rebuilt.push_back(m);
  }
  testing::Resign(rebuilt, home_->key);
  status = CheckRaw(rebuilt, "added");
  EXPECT_THAT(status.message(), HasSubstr(foreign_receipt.name + ": receipt: order")) << status;
}

// The times the controller signed must fit the rules it enforces: a receipt
// accepted before its order was issued, or after the package was exported,
// is refused, even when the bank signs the package again.
TEST_F(PackageCheckTest, AReceiptTimeOutsideItsOrderAndTheExportIsRefused) {
  const auto with_accepted_at = [&](int64_t accepted_at) {
    std::vector<RawMember> members = testing::ToRaw(testing::ReadMembers(package_));
    for (RawMember& m : members) {
      if (!absl::StartsWith(m.name, "receipts/")) continue;
      nlohmann::ordered_json receipt = nlohmann::ordered_json::parse(m.bytes);
      receipt["accepted_at"] = accepted_at;
      m.bytes = receipt.dump() + "\n";
      break;
    }
    testing::Resign(members, home_->key);
    return CheckRaw(members, absl::StrCat("accepted-", accepted_at));
  };
  EXPECT_TRUE(with_accepted_at(testing::kEvidenceNow + 10).ok());  // as exported
  EXPECT_TRUE(with_accepted_at(testing::kEvidenceNow).ok());       // when issued
  EXPECT_TRUE(with_accepted_at(testing::kEvidenceNow + 60).ok());  // when exported
  absl::Status status = with_accepted_at(testing::kEvidenceNow - 1);
  EXPECT_THAT(status.message(), HasSubstr("accepted at 2027-01-15T07:59:59Z, before order order-1 "
                                          "was issued at 2027-01-15T08:00:00Z"))
      << status;
  status = with_accepted_at(testing::kEvidenceNow + 61);
  EXPECT_THAT(status.message(), HasSubstr("after the package was exported at 2027-01-15T08:01:00Z"))
      << status;
}

// An order issued before its agent enrolled cannot come from `terminate`:
// refused.
TEST_F(PackageCheckTest, AnOrderIssuedOutsideItsAgentsEnrollmentIsRefused) {
  const testing::TestAgent early = Enroll("vendor-a", "host-early");
  IssueOrder(early, "c-1", testing::kEvidenceNow - 100);
  const auto before = ExportAndCheck();
  ASSERT_FALSE(before.ok());
  EXPECT_THAT(before.status().message(),
              HasSubstr("issued at 2027-01-15T07:58:20Z, before agent " + early.agent_id +
                        " enrolled at 2027-01-15T08:00:00Z"));
}

// The intake refuses a banned agent, and the store records a ban no earlier
// than the agent's last accepted attestation: one accepted after the ban
// says the controller did neither. Built by re-signing the package.
TEST_F(PackageCheckTest, AnAttestationAcceptedAfterItsAgentWasBannedIsRefused) {
  const auto banned_at = [&](int64_t at) {
    std::vector<RawMember> members = testing::ToRaw(testing::ReadMembers(package_));
    for (RawMember& m : members) {
      if (m.name != "enrollments.json") continue;
      nlohmann::ordered_json enrollments = nlohmann::ordered_json::parse(m.bytes);
      for (auto& e : enrollments) {
        if (e["agent_id"] != host1_.agent_id) continue;
        e["banned"] = true;
        e["banned_at"] = at;
      }
      m.bytes = enrollments.dump() + "\n";
    }
    testing::Resign(members, home_->key);
    return CheckRaw(members, absl::StrCat("banned-", at));
  };
  // host-1's attestation was accepted at kEvidenceNow + 10.
  EXPECT_TRUE(banned_at(testing::kEvidenceNow + 10).ok());
  const absl::Status status = banned_at(testing::kEvidenceNow + 9);
  EXPECT_THAT(status.message(), HasSubstr("receipt: accepted at 2027-01-15T08:00:10Z from agent " +
                                          host1_.agent_id + ", banned at 2027-01-15T08:00:09Z"))
      << status;
}

// A run begun before its order expired may be accepted after (the agent
// crashed and resumed); one begun after may not.
TEST_F(PackageCheckTest, AnAttestationAfterItsOrdersExpiryMustBeARunBegunBefore) {
  const testing::TestAgent host3 = Enroll("vendor-a", "host-3", testing::kEvidenceNow - 7200);
  // Expires at kEvidenceNow + 5; the run began at kEvidenceNow, and the
  // intake accepts it late, at kEvidenceNow + 10.
  Attest(host3, IssueOrder(host3, "c-1", testing::kEvidenceNow - 595), {});
  const auto late = ExportAndCheck();
  ASSERT_TRUE(late.ok()) << late.status();

  // Expires at kEvidenceNow, when the run began: still in time.
  const testing::TestAgent host5 = Enroll("vendor-a", "host-5", testing::kEvidenceNow - 7200);
  ASSERT_TRUE(AppendUnchecked(host5, IssueOrder(host5, "c-1", testing::kEvidenceNow - 600),
                              nlohmann::json::array(), testing::kEvidenceNow + 10)
                  .ok());
  const auto boundary = ExportAndCheck();
  ASSERT_TRUE(boundary.ok()) << boundary.status();

  const testing::TestAgent host4 = Enroll("vendor-a", "host-4", testing::kEvidenceNow - 7200);
  const controller::OrderRow expired = IssueOrder(host4, "c-1", testing::kEvidenceNow - 3600);
  ASSERT_TRUE(
      AppendUnchecked(host4, expired, nlohmann::json::array(), testing::kEvidenceNow + 10).ok());
  const auto refused = ExportAndCheck();
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(
      refused.status().message(),
      HasSubstr("order expiry: accepted at 2027-01-15T08:00:10Z, after order " + expired.order_id +
                " expired at 2027-01-15T07:10:00Z, for a run begun at "
                "2027-01-15T08:00:00Z"));
}

// An attestation the intake accepted after the export's time (it read its
// clock later and committed first) is left for the next package.
TEST_F(PackageCheckTest, AnAttestationAcceptedAfterTheExportsTimeIsLeftOut) {
  const testing::TestAgent host3 = Enroll("vendor-a", "host-3");
  ASSERT_TRUE(AppendUnchecked(host3, IssueOrder(host3, "c-1"), nlohmann::json::array(),
                              testing::kEvidenceNow + 61)
                  .ok());
  const auto summary = ExportAndCheck();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->attestations, 2u);
  EXPECT_EQ(summary->orders, 3u);
}

// The agent sent its attestation over mutual TLS, so its certificate was
// valid when it was accepted; one accepted after the certificate expired is
// refused.
TEST_F(PackageCheckTest, AnAttestationAcceptedOutsideItsAgentsCertificateIsRefused) {
  constexpr int64_t kDay = 24 * 3600;
  const testing::TestAgent old = Enroll("vendor-a", "host-old", testing::kEvidenceNow - 400 * kDay);
  Attest(old, IssueOrder(old, "c-1"), {});
  const auto summary = ExportAndCheck();
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(),
              HasSubstr("accepted at 2027-01-15T08:00:10Z, when agent " + old.agent_id +
                        "'s client certificate was not valid"));
}

// A regulator keeps the latest head of each package and passes it with the
// next: the package must hold a head of that size and root, tied to its
// latest by consistency proofs. The bank adds one with --since-head; a head
// of another log (a rewritten one, or one shown to someone else) fails.
TEST_F(PackageCheckTest, AKnownHeadMustBeProvenPartOfThePackagesLog) {
  // The log has heads of sizes 1, 2 and 3; c-1's package holds 1 and 3.
  const auto heads = home_->store->TreeHeads();
  ASSERT_TRUE(heads.ok() && heads->size() == 3u);
  const std::string head1 = (*heads)[0].signed_envelope;
  const std::string head2 = (*heads)[1].signed_envelope;
  const auto check = [&](const std::string& known) {
    return CheckEvidencePackage(package_,
                                {.controller_key = home_->paths.PublicKey(), .known_head = known});
  };
  const auto with_head1 = check(head1);
  ASSERT_TRUE(with_head1.ok()) << with_head1.status();
  EXPECT_EQ(with_head1->known_head_size, 1u);
  EXPECT_EQ(with_head1->latest_head, (*heads)[2].signed_envelope);
  EXPECT_THAT(check(head2).status().message(),
              HasSubstr("known head: consistency: the package holds no signed head of size 2"));

  boost::filesystem::remove(package_);
  package_ = Export("c-1", head2);
  const auto with_head2 = check(head2);
  ASSERT_TRUE(with_head2.ok()) << with_head2.status();
  EXPECT_EQ(with_head2->known_head_size, 2u);
  EXPECT_EQ(with_head2->tree_heads, 3u);

  // The same size, another root, signed by the same controller: two logs.
  offboard::v1::TreeHead forged;
  forged.set_tree_size(2);
  forged.set_root_hash_hex(std::string(64, 'f'));
  forged.mutable_timestamp()->set_seconds(testing::kEvidenceNow);
  EXPECT_THAT(check(common::SignTreeHead(forged, home_->key)).status().message(),
              HasSubstr("the controller signed two different logs"));
  const auto refused =
      controller::ExportEvidence(*home_, {.contract_id = "c-1",
                                          .out = temp_.path() / "forked.tar.gz",
                                          .now = testing::kEvidenceNow + 60,
                                          .since_head = common::SignTreeHead(forged, home_->key)});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_FALSE(boost::filesystem::exists(temp_.path() / "forked.tar.gz"));
  // A head the package already holds adds nothing; one beyond the log's
  // latest is no head of this log, and a package older than the known head
  // says so.
  boost::filesystem::remove(package_);
  package_ = Export("c-1", head1);
  const auto again = check(head1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->tree_heads, 2u);
  offboard::v1::TreeHead ahead;
  ahead.set_tree_size(9);
  ahead.set_root_hash_hex(std::string(64, 'a'));
  const std::string ahead_head = common::SignTreeHead(ahead, home_->key);
  EXPECT_THAT(controller::ExportEvidence(*home_, {.contract_id = "c-1",
                                                  .out = temp_.path() / "ahead.tar.gz",
                                                  .now = testing::kEvidenceNow + 60,
                                                  .since_head = ahead_head})
                  .status()
                  .message(),
              HasSubstr("--since-head: size 9 is not in 1..3"));
  EXPECT_THAT(check(ahead_head).status().message(),
              HasSubstr("the package's log (size 3) is older than the known head (size 9)"));
  // An empty file (a truncated save) fails the check; it never skips it.
  EXPECT_THAT(check("").status().message(), HasSubstr("known head: signature"));
  // Signed by anyone else: no head of this controller.
  const common::Ed25519PrivateKey other = *common::Ed25519PrivateKey::Generate();
  EXPECT_THAT(check(common::SignTreeHead(forged, other)).status().message(),
              HasSubstr("known head: signature by the controller key"));
}

// The agents' and officers' keys are vouched for by the controller key
// alone: the summary lists them for the auditor, and an officer record whose
// key id is not its key's is refused.
TEST_F(PackageCheckTest, TheSigningKeysAreListedAndAnOfficerKeyIdMustBeItsKeys) {
  const common::Ed25519PrivateKey officer = RegisterOfficer("vendor-a", "A, CISO");
  const std::string officer_id = officer.PublicKey().KeyId();
  const auto summary = ExportAndCheck();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(
      summary->signing_keys,
      ::testing::UnorderedElementsAre(
          "agent " + host1_.agent_id +
              " (vendor vendor-a, host host-1): " + host1_.attestation_key.PublicKey().KeyId(),
          "agent " + host2_.agent_id +
              " (vendor vendor-a, host host-2): " + host2_.attestation_key.PublicKey().KeyId(),
          "officer A, CISO (vendor vendor-a): " + officer_id));

  std::vector<RawMember> members = testing::ToRaw(testing::ReadMembers(package_));
  for (RawMember& m : members) {
    if (m.name == "officers.json") {
      const size_t at = m.bytes.find(officer_id);
      ASSERT_NE(at, std::string::npos);
      m.bytes.replace(at, officer_id.size(), std::string(officer_id.size(), 'a'));
    }
  }
  testing::Resign(members, home_->key);
  const absl::Status status = CheckRaw(members, "officer-id");
  EXPECT_THAT(status.message(), HasSubstr("key_id is not its key's")) << status;
}

TEST_F(PackageCheckTest, AReportThatDoesNotFollowFromTheAttestationsIsRefused) {
  std::vector<RawMember> members = testing::ToRaw(testing::ReadMembers(package_));
  for (RawMember& m : members) {
    if (m.name == "reconciliation.json") {
      const size_t at = m.bytes.find("logical_only");
      ASSERT_NE(at, std::string::npos);
      m.bytes.replace(at, 12, "overwrite_verified");
    }
  }
  testing::Resign(members, home_->key);
  const absl::Status status = CheckRaw(members);
  EXPECT_THAT(status.message(), HasSubstr("reconciliation.json: recomputed")) << status;
}

TEST_F(PackageCheckTest, HostilePackagesAreRefusedSafely) {
  const std::vector<RawMember> original = testing::ToRaw(testing::ReadMembers(package_));
  const auto with = [&](RawMember extra) {
    std::vector<RawMember> members = original;
    members.insert(members.begin() + 1, std::move(extra));
    return CheckRaw(members);
  };
  EXPECT_THAT(with({"orders/../../etc/passwd", "x", ""}).message(), HasSubstr("\"..\""));
  EXPECT_THAT(with({"/etc/cron.d/x", "x", ""}).message(), HasSubstr("absolute"));
  EXPECT_THAT(with({"orders/link", "", "/etc/shadow"}).message(), HasSubstr("not a regular file"));
  std::vector<RawMember> duplicate = original;
  duplicate.insert(duplicate.begin() + 2, original[1]);
  EXPECT_THAT(CheckRaw(duplicate).message(), HasSubstr("second member of the same name"));

  // Over the size limit.
  const auto limited = CheckEvidencePackage(
      package_,
      {.controller_key = std::nullopt,
       .limits = {.max_member_bytes = 1024, .max_total_bytes = 1 << 30, .max_members = 100}});
  EXPECT_THAT(limited.status().message(), HasSubstr("over the limit"));

  // Truncated anywhere: never accepted.
  const std::string bytes = *common::ReadFileToString(package_, 1 << 30);
  for (const size_t keep : {size_t{0}, size_t{10}, bytes.size() / 3, bytes.size() - 20}) {
    const boost::filesystem::path cut = temp_.WriteFile("cut.tar.gz", bytes.substr(0, keep));
    const auto summary = Check(cut, home_->paths.PublicKey());
    EXPECT_FALSE(summary.ok()) << "kept " << keep;
  }
}

TEST_F(PackageCheckTest, ItemsReconciliationCannotReadAreRefusedAtIntake) {
  const auto order = IssueOrder(host2_, "c-2");
  const nlohmann::json bad = {{{"path", "/x"},
                               {"dataset_id", "ds-a"},
                               {"sha256", kShaC},
                               {"match", "exact"},
                               {"status", "vaporized"}}};
  const absl::Status refused = AttestItems(host2_, order, bad);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("items[0].status")) << refused;
  // Nothing was logged: the contract still exports and verifies.
  EXPECT_TRUE(Check(Export("c-2"), home_->paths.PublicKey()).ok());
}

TEST_F(PackageCheckTest, TheExporterNeverOverwritesAPackage) {
  const auto again = controller::ExportEvidence(
      *home_, {.contract_id = "c-1", .out = package_, .now = testing::kEvidenceNow + 90});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Check(package_).ok());
  const auto unknown = controller::ExportEvidence(
      *home_, {.contract_id = "c-404", .out = temp_.path() / "none.tar.gz", .now = 1});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(boost::filesystem::exists(temp_.path() / "none.tar.gz"));
}

// A package of format 1 (exported before per-vendor matching, hosts without
// an order and superseded orders) is still read, and recomputed by its rules.
TEST_F(PackageCheckTest, APackageOfFormat1StillVerifies) {
  std::vector<RawMember> members = testing::ToRaw(testing::ReadMembers(package_));
  ASSERT_EQ(members[0].name, "manifest.json");
  common::DsseEnvelope envelope = *common::ParseDsseEnvelope(members[0].bytes);
  common::Manifest manifest = *common::ManifestFromJson(envelope.payload);
  EXPECT_EQ(manifest.format, common::kEvidenceFormat);
  manifest.format = std::string(common::kEvidenceFormat1);
  members[0].bytes = common::SerializeDsseEnvelope(
      common::SignDsse(common::kManifestPayloadType,
                       common::DumpRecord(common::ManifestToJson(manifest)), home_->key));
  const absl::Status status = CheckRaw(members, "format1");
  EXPECT_TRUE(status.ok()) << status;
}

// The rules of format 1 are applied, not today's: a package whose reports
// list a host without an order does not recompute under them, and a
// statement on a dataset two vendors hold is refused, as it was then.
TEST_F(PackageCheckTest, APackageOfFormat1IsRecomputedByItsOwnRules) {
  const auto relabel = [&](const boost::filesystem::path& package) {
    std::vector<RawMember> members = testing::ToRaw(testing::ReadMembers(package));
    common::Manifest manifest =
        *common::ManifestFromJson(common::ParseDsseEnvelope(members[0].bytes)->payload);
    manifest.format = std::string(common::kEvidenceFormat1);
    members[0].bytes = common::SerializeDsseEnvelope(
        common::SignDsse(common::kManifestPayloadType,
                         common::DumpRecord(common::ManifestToJson(manifest)), home_->key));
    return members;
  };
  Enroll("vendor-a", "host-late");
  ASSERT_TRUE(ExportAndCheck().ok());
  absl::Status status = CheckRaw(relabel(package_), "late-host");
  EXPECT_THAT(status.message(), HasSubstr("reconciliation.json: recomputed")) << status;

  const common::Ed25519PrivateKey officer = RegisterOfficer("vendor-a", "A, CISO");
  ASSERT_TRUE(controller::AcceptSelfAttestation(*home_->store, home_->paths.dir / "officers", "c-1",
                                                TapeStatement(officer), testing::kEvidenceNow)
                  .ok());
  AddInventoryFile("c-1", "b-copy.csv", common::DigestHex(common::Sha256Of("zzz")), "vendor-b",
                   "ds-a");
  ASSERT_TRUE(ExportAndCheck().ok());
  status = CheckRaw(relabel(package_), "shared");
  EXPECT_THAT(status.message(), HasSubstr("is also held by vendor vendor-b")) << status;
}

// A host enrolled after the orders were issued was never asked: the
// controller's report and the verifier's recomputation both hold the verdict
// back, naming the host.
TEST_F(PackageCheckTest, AHostEnrolledAfterTheOrdersHoldsTheVerdictBack) {
  Enroll("vendor-a", "host-late");
  const auto summary = ExportAndCheck();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->verdict, common::Verdict::kIncomplete);
  EXPECT_THAT(summary->reasons, ::testing::ElementsAre("1 enrolled host without a wipe order"));
  std::string report;
  for (const common::PackageMember& member : testing::ReadMembers(package_)) {
    if (member.name == common::kReconciliationJsonMember) report = member.bytes;
  }
  EXPECT_THAT(
      report,
      HasSubstr(R"("hosts_without_order":[{"vendor_id":"vendor-a","host_id":"host-late"}])"));
}

// An attestation in parts answers its order once every part is in the log,
// in the controller's report and in the verifier's recomputation alike.
TEST_F(PackageCheckTest, AnAttestationInPartsAnswersItsOrderOnceComplete) {
  const testing::TestAgent host3 = Enroll("vendor-a", "host-3");
  const auto order = IssueOrder(host3, "c-1");
  const auto part = [](uint32_t index) {
    return nlohmann::json{{"run_id", "run-3"}, {"part", {{"index", index}, {"count", 2}}}};
  };
  ASSERT_TRUE(AttestItems(host3, order, WipedItems({{"/srv/3/b.csv", kShaB}}), part(2)).ok());
  const auto half = ExportAndCheck();
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->verdict, common::Verdict::kIncomplete);
  EXPECT_THAT(half->reasons, ::testing::ElementsAre("1 order not yet answered"));

  ASSERT_TRUE(AttestItems(host3, order, WipedItems({{"/srv/3/a.csv", kShaA}}), part(1)).ok());
  const auto whole = ExportAndCheck();
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->verdict, common::Verdict::kVerifiedComplete);
  EXPECT_EQ(whole->attestations, 4u);

  // A part without an item or an error is not taken: it would only fill the log.
  EXPECT_EQ(AttestItems(host3, IssueOrder(host3, "c-1"), nlohmann::json::array(), part(1)).code(),
            absl::StatusCode::kInvalidArgument);
}

// An order that expired unanswered, its host asked again and answering: the
// old order is superseded, in the controller's report and the verifier's.
TEST_F(PackageCheckTest, AnExpiredOrderAnsweredAnewIsSuperseded) {
  const testing::TestAgent host3 = Enroll("vendor-a", "host-3", testing::kEvidenceNow - 7200);
  IssueOrder(host3, "c-1", testing::kEvidenceNow - 3600);  // expired, never answered
  const auto again = IssueOrder(host3, "c-1");
  Attest(host3, again, {});
  const auto summary = ExportAndCheck();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->verdict, common::Verdict::kVerifiedComplete);
  std::string report;
  for (const common::PackageMember& member : testing::ReadMembers(package_)) {
    if (member.name == common::kReconciliationJsonMember) report = member.bytes;
  }
  EXPECT_THAT(report, HasSubstr(R"("superseded_orders":["order-)"));
}

// Vendor B holds the same dataset and content as vendor A in one contract.
// Vendor A's wipe does not account for vendor B's copy: until vendor B's own
// host attests it, the file is not found, in the controller and the verifier.
TEST_F(PackageCheckTest, OneVendorsWipeDoesNotAccountForAnothersCopy) {
  AddInventoryFile("c-1", "b-copy.csv", kShaA, "vendor-b", "ds-a");
  const testing::TestAgent host_b = Enroll("vendor-b", "host-b");
  const auto order = IssueOrder(host_b, "c-1");
  ASSERT_TRUE(AttestItems(host_b, order, nlohmann::json::array()).ok());
  const auto before = ExportAndCheck();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->verdict, common::Verdict::kIncomplete);
  EXPECT_THAT(before->reasons,
              ::testing::ElementsAre("1 file not found by any agent nor self-attested"));

  const auto again = IssueOrder(host_b, "c-1");
  Attest(host_b, again, {{"/srv/b-copy.csv", kShaA}});
  const auto after = ExportAndCheck();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->verdict, common::Verdict::kVerifiedComplete);
}

// An officer's statement accepted while only vendor A held the dataset, then
// vendor B's rows of the same dataset imported: the statement covers neither
// vendor's rows any more, and the package still verifies, the same in the
// controller's report and the verifier's.
TEST_F(PackageCheckTest, AStatementOnADatasetSharedSinceCoversNothingAndStillVerifies) {
  AddInventoryFile("c-1", "tapes/t.csv", kShaC);  // ds-a, vendor-a: never found by an agent
  const common::Ed25519PrivateKey officer = RegisterOfficer("vendor-a", "A, CISO");
  ASSERT_TRUE(controller::AcceptSelfAttestation(*home_->store, home_->paths.dir / "officers", "c-1",
                                                TapeStatement(officer, kShaC),
                                                testing::kEvidenceNow)
                  .ok());
  const auto covered = ExportAndCheck();
  ASSERT_TRUE(covered.ok()) << covered.status();
  EXPECT_EQ(covered->verdict, common::Verdict::kVerifiedComplete);

  AddInventoryFile("c-1", "b-copy.csv", common::DigestHex(common::Sha256Of("zzz")), "vendor-b",
                   "ds-a");
  const auto shared = ExportAndCheck();
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->verdict, common::Verdict::kIncomplete);
  EXPECT_THAT(shared->reasons,
              ::testing::Contains("2 files not found by any agent nor self-attested"));
}

// A statement the controller would refuse, stored behind its back: vendor B's
// officer accounting for vendor A's dataset in a contract they share. The
// verifier refuses it on its own.
TEST_F(PackageCheckTest, AnOfficerStatementForAnotherVendorsDatasetIsRefused) {
  AddInventoryFile("c-1", "b-own.csv", common::DigestHex(common::Sha256Of("zzz")), "vendor-b",
                   "ds-b");
  const common::Ed25519PrivateKey officer = RegisterOfficer("vendor-b", "B, CISO");
  ASSERT_TRUE(home_->store
                  ->PutSelfAttestation({.contract_id = "c-1",
                                        .officer_key_id = officer.PublicKey().KeyId(),
                                        .envelope = TapeStatement(officer),
                                        .accepted_at = testing::kEvidenceNow})
                  .ok());
  const auto summary = ExportAndCheck();
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(),
              HasSubstr("is not one that vendor vendor-b holds in contract c-1"));
}

}  // namespace
}  // namespace offboard::verify
