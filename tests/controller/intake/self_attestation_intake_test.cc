// Vendor self-attestations: only a key the bank registered for the contract's
// vendor may sign one, it must name the contract and say where and what, and
// the files it covers reconcile as self_attested — never as wiped.
#include "controller/intake/self_attestation_intake.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/crypto/ed25519.h"
#include "common/dsse/envelope.h"
#include "common/intoto/statement.h"
#include "controller/cli/contract_reconciliation.h"
#include "controller/store/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

using ::testing::HasSubstr;

class SelfAttestationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *OpenSqliteStore(temp_.path() / "controller.db");
    ASSERT_TRUE(store_
                    ->ImportInventory({{"c-1", "vendor-a", "ds-tapes", "secret", "t1.csv", 10,
                                        std::string(64, 'a')},
                                       {"c-1", "vendor-a", "ds-tapes", "secret", "t2.csv", 20,
                                        std::string(64, 'b')}},
                                      {})
                    .ok());
    ASSERT_TRUE(RegisterOfficerKey(officers(), "vendor-a", "Jane Roe, CISO",
                                   officer_.PublicKey().ToPem(), 1)
                    .ok());
    ASSERT_TRUE(RegisterOfficerKey(officers(), "vendor-b", "Other vendor",
                                   stranger_.PublicKey().ToPem(), 1)
                    .ok());
  }

  boost::filesystem::path officers() const { return temp_.path() / "officers"; }

  static std::string Statement(const common::Ed25519PrivateKey& key, const std::string& contract,
                               nlohmann::json items) {
    common::InTotoStatement statement;
    statement.predicate_type = std::string(common::kSelfAttestationPredicateType);
    statement.subjects.push_back({.name = "tape-vault", .digest = {{"sha256", std::string(64, 'c')}}});
    statement.predicate = {{"contract_id", contract}, {"officer", "Jane Roe"}, {"items", items}};
    return common::SerializeDsseEnvelope(common::SignDsse(
        common::kInTotoPayloadType, common::SerializeStatement(statement), key));
  }

  static nlohmann::json TapeItems() {
    return nlohmann::json::array({{{"dataset_id", "ds-tapes"},
                                   {"location", "off-site tape vault, cartridges 17-23"},
                                   {"statement", "degaussed and shredded on 2026-11-20"}}});
  }

  testing::TempDir temp_;
  std::unique_ptr<ControllerStore> store_;
  common::Ed25519PrivateKey officer_ = *common::Ed25519PrivateKey::Generate();
  common::Ed25519PrivateKey stranger_ = *common::Ed25519PrivateKey::Generate();
};

TEST_F(SelfAttestationTest, AcceptedAndShownAsSelfAttestedNeverWiped) {
  const auto officer =
      AcceptSelfAttestation(*store_, officers(), "c-1", Statement(officer_, "c-1", TapeItems()), 5);
  ASSERT_TRUE(officer.ok()) << officer.status();
  EXPECT_EQ(officer->name, "Jane Roe, CISO");
  const auto reconciliation = ReconcileContract(*store_, "c-1", 10);
  ASSERT_TRUE(reconciliation.ok()) << reconciliation.status();
  ASSERT_EQ(reconciliation->files.size(), 2u);
  for (const common::FileResult& file : reconciliation->files) {
    EXPECT_EQ(file.state, common::FileState::kSelfAttested);
  }
  ASSERT_TRUE(reconciliation->assurance_floor.has_value());
  EXPECT_EQ(*reconciliation->assurance_floor, common::Assurance::kSelfAttested);
}

TEST_F(SelfAttestationTest, RefusesOtherKeysContractsAndMalformedItems) {
  const auto other_vendor =
      AcceptSelfAttestation(*store_, officers(), "c-1", Statement(stranger_, "c-1", TapeItems()), 5);
  EXPECT_TRUE(absl::IsPermissionDenied(other_vendor.status())) << other_vendor.status();
  const auto unregistered = AcceptSelfAttestation(
      *store_, officers(), "c-1",
      Statement(*common::Ed25519PrivateKey::Generate(), "c-1", TapeItems()), 5);
  EXPECT_TRUE(absl::IsPermissionDenied(unregistered.status()));
  const auto wrong_contract =
      AcceptSelfAttestation(*store_, officers(), "c-1", Statement(officer_, "c-2", TapeItems()), 5);
  EXPECT_TRUE(absl::IsInvalidArgument(wrong_contract.status()));
  EXPECT_THAT(wrong_contract.status().message(), HasSubstr("contract_id"));
  nlohmann::json no_location = TapeItems();
  no_location[0].erase("location");
  const auto malformed =
      AcceptSelfAttestation(*store_, officers(), "c-1", Statement(officer_, "c-1", no_location), 5);
  EXPECT_THAT(malformed.status().message(), HasSubstr("items[0].location"));
  EXPECT_TRUE(store_->SelfAttestationsForContract("c-1")->empty());
  EXPECT_TRUE(absl::IsAlreadyExists(
      RegisterOfficerKey(officers(), "vendor-c", "x", officer_.PublicKey().ToPem(), 1).status()));
}

// In a contract shared by two vendors, vendor B's officer cannot account for
// vendor A's dataset, nor vendor A's for one the contract does not hold.
TEST_F(SelfAttestationTest, AnOfficerSpeaksOnlyForTheirOwnVendorsDatasets) {
  ASSERT_TRUE(
      store_
          ->ImportInventory(
              {{"c-1", "vendor-b", "ds-b", "secret", "b.csv", 30, std::string(64, 'd')}}, {})
          .ok());
  const auto other_vendors = AcceptSelfAttestation(*store_, officers(), "c-1",
                                                   Statement(stranger_, "c-1", TapeItems()), 5);
  EXPECT_TRUE(absl::IsPermissionDenied(other_vendors.status())) << other_vendors.status();
  EXPECT_THAT(other_vendors.status().message(),
              HasSubstr("dataset ds-tapes is not one that vendor vendor-b holds"));
  nlohmann::json unknown = TapeItems();
  unknown[0]["dataset_id"] = "ds-b";
  const auto not_own =
      AcceptSelfAttestation(*store_, officers(), "c-1", Statement(officer_, "c-1", unknown), 5);
  EXPECT_TRUE(absl::IsPermissionDenied(not_own.status())) << not_own.status();
  EXPECT_TRUE(store_->SelfAttestationsForContract("c-1")->empty());
  nlohmann::json own = TapeItems();
  own[0]["dataset_id"] = "ds-b";
  EXPECT_TRUE(
      AcceptSelfAttestation(*store_, officers(), "c-1", Statement(stranger_, "c-1", own), 5).ok());

  // A dataset both vendors hold: neither officer can speak for it.
  ASSERT_TRUE(store_
                  ->ImportInventory({{"c-1", "vendor-b", "ds-tapes", "secret", "b-tapes.csv", 40,
                                      std::string(64, 'e')}},
                                    {})
                  .ok());
  const auto shared = AcceptSelfAttestation(*store_, officers(), "c-1",
                                            Statement(stranger_, "c-1", TapeItems()), 5);
  EXPECT_TRUE(absl::IsPermissionDenied(shared.status())) << shared.status();
  EXPECT_THAT(shared.status().message(), HasSubstr("also held by vendor vendor-a"));
  EXPECT_TRUE(absl::IsPermissionDenied(
      AcceptSelfAttestation(*store_, officers(), "c-1", Statement(officer_, "c-1", TapeItems()), 5)
          .status()));
}

}  // namespace
}  // namespace offboard::controller
