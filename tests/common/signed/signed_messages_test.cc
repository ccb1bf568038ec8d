// Signed wipe orders and tree heads: what one key signs only that key
// verifies, a changed byte or an expired order is refused, and neither kind
// of message passes for the other.
#include "common/signed/signed_messages.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/merkle/merkle.h"
#include "common/policy/wipe_policy.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1800000000;

offboard::v1::WipeOrder MakeOrder() {
  offboard::v1::WipeOrder order;
  order.set_order_id("order-1");
  order.set_contract_id("contract-1");
  order.set_vendor_id("vendor-a");
  order.set_host_id("host-1");
  order.set_agent_id("agent-1");
  order.set_nonce_hex(std::string(64, 'a'));
  *order.mutable_issued_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(kNow - 60);
  *order.mutable_expires_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(kNow + 3600);
  const std::string policy = R"(
    name: "p"
    passes { pattern: PASS_PATTERN_RANDOM }
    verification: VERIFICATION_LAST
    rename_rounds: 1
    archive_members: ARCHIVE_MEMBER_ACTION_REWRITE_ARCHIVE
    unwritable_archives: UNWRITABLE_ARCHIVE_ACTION_WIPE_WHOLE_ARCHIVE
    derived_copies: DERIVED_COPY_ACTION_WIPE_WHOLE_FILE
    scan_limits { max_archive_depth: 4 max_member_bytes: 1000 max_archive_bytes: 1000
                  max_compression_ratio: 100 per_file_timeout_seconds: 60 })";
  *order.mutable_policy() = *ParseWipePolicy(policy, "p");
  auto* dataset = order.add_datasets();
  dataset->set_dataset_id("ds-1");
  auto* file = dataset->add_files();
  file->set_path("customers.csv");
  file->set_size(12);
  file->set_sha256(std::string(64, 'b'));
  return order;
}

TEST(SignedMessagesTest, WipeOrderRoundTrips) {
  const auto key = *Ed25519PrivateKey::Generate();
  const std::string wire = SignWipeOrder(MakeOrder(), key);
  const auto order = VerifyWipeOrder(wire, key.PublicKey(), kNow);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->order_id(), "order-1");
  EXPECT_EQ(order->datasets(0).files(0).sha256(), std::string(64, 'b'));
  EXPECT_EQ(order->policy().name(), "p");
}

TEST(SignedMessagesTest, RefusesAnotherKeyATamperedPayloadAndAnExpiredOrder) {
  const auto key = *Ed25519PrivateKey::Generate();
  const auto other = *Ed25519PrivateKey::Generate();
  const std::string wire = SignWipeOrder(MakeOrder(), key);
  EXPECT_TRUE(absl::IsUnauthenticated(VerifyWipeOrder(wire, other.PublicKey(), kNow).status()));

  DsseEnvelope envelope = *ParseDsseEnvelope(wire);
  envelope.payload.replace(envelope.payload.find("host-1"), 6, "host-2");
  EXPECT_TRUE(absl::IsUnauthenticated(
      VerifyWipeOrder(SerializeDsseEnvelope(envelope), key.PublicKey(), kNow).status()));

  const auto expired = VerifyWipeOrder(wire, key.PublicKey(), kNow + 3600);
  EXPECT_TRUE(absl::IsFailedPrecondition(expired.status())) << expired.status();
  EXPECT_THAT(expired.status().message(), HasSubstr("expired"));
}

TEST(SignedMessagesTest, RefusesAnOrderWithoutANonceOrPolicy) {
  const auto key = *Ed25519PrivateKey::Generate();
  auto order = MakeOrder();
  order.set_nonce_hex("abcd");
  EXPECT_TRUE(absl::IsInvalidArgument(
      VerifyWipeOrder(SignWipeOrder(order, key), key.PublicKey(), kNow).status()));
  order = MakeOrder();
  order.mutable_policy()->clear_passes();
  EXPECT_TRUE(absl::IsInvalidArgument(
      VerifyWipeOrder(SignWipeOrder(order, key), key.PublicKey(), kNow).status()));
}

TEST(SignedMessagesTest, TreeHeadsAndOrdersAreNotInterchangeable) {
  const auto key = *Ed25519PrivateKey::Generate();
  offboard::v1::TreeHead head;
  head.set_tree_size(7);
  head.set_root_hash_hex(std::string(64, 'c'));
  const std::string wire = SignTreeHead(head, key);
  const auto back = VerifyTreeHead(wire, key.PublicKey());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tree_size(), 7u);
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyWipeOrder(wire, key.PublicKey(), kNow).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      VerifyTreeHead(SignWipeOrder(MakeOrder(), key), key.PublicKey()).status()));
}

// A receipt for leaf `index` of a log of `envelopes`, as the controller gives it.
offboard::v1::Receipt ReceiptFor(const std::vector<std::string>& envelopes, uint64_t index,
                                 const Ed25519PrivateKey& key) {
  std::vector<MerkleHash> leaves;
  for (const std::string& envelope : envelopes) leaves.push_back(LeafHash(envelope));
  offboard::v1::TreeHead head;
  head.set_tree_size(leaves.size());
  head.set_root_hash_hex(HexEncode(RootFromLeafHashes(leaves)));
  offboard::v1::Receipt receipt;
  receipt.set_log_index(index);
  receipt.set_leaf_hash_hex(HexEncode(leaves[index]));
  const absl::StatusOr<std::vector<MerkleHash>> proof = InclusionProof(leaves, index);
  EXPECT_TRUE(proof.ok()) << proof.status();
  for (const MerkleHash& hash : proof.value_or(std::vector<MerkleHash>{})) {
    receipt.add_inclusion_proof_hex(HexEncode(hash));
  }
  receipt.set_signed_tree_head(SignTreeHead(head, key));
  return receipt;
}

TEST(SignedMessagesTest, AReceiptVerifiesForItsEnvelopeOnly) {
  const auto key = *Ed25519PrivateKey::Generate();
  const std::vector<std::string> log = {"e0", "e1", "e2", "e3", "e4"};
  for (uint64_t index = 0; index < log.size(); ++index) {
    const auto head = VerifyReceipt(ReceiptFor(log, index, key), log[index], key.PublicKey());
    ASSERT_TRUE(head.ok()) << index << ": " << head.status();
    EXPECT_EQ(head->tree_size(), 5u);
  }
  const offboard::v1::Receipt receipt = ReceiptFor(log, 2, key);

  EXPECT_THAT(VerifyReceipt(receipt, "e3", key.PublicKey()).status().message(),
              HasSubstr("is not the attestation's"));
  EXPECT_TRUE(absl::IsUnauthenticated(
      VerifyReceipt(receipt, "e2", Ed25519PrivateKey::Generate()->PublicKey()).status()));

  offboard::v1::Receipt moved = receipt;
  moved.set_log_index(3);
  EXPECT_THAT(VerifyReceipt(moved, "e2", key.PublicKey()).status().message(),
              HasSubstr("is not in the signed tree of size 5"));

  offboard::v1::Receipt bent = receipt;
  bent.set_inclusion_proof_hex(0, std::string(64, '0'));
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyReceipt(bent, "e2", key.PublicKey()).status()));
  bent.set_inclusion_proof_hex(0, "not hex");
  EXPECT_THAT(VerifyReceipt(bent, "e2", key.PublicKey()).status().message(),
              HasSubstr("inclusion proof"));

  // The head of a smaller log that does not hold the leaf.
  offboard::v1::Receipt early = receipt;
  early.set_signed_tree_head(ReceiptFor({"e0", "e1"}, 0, key).signed_tree_head());
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyReceipt(early, "e2", key.PublicKey()).status()));
}

}  // namespace
}  // namespace offboard::common
