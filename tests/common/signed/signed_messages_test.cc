// Signed wipe orders and tree heads: what one key signs only that key
// verifies, a changed byte or an expired order is refused, and neither kind
// of message passes for the other.
#include "common/signed/signed_messages.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <string>

#include "common/dsse/envelope.h"
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

}  // namespace
}  // namespace offboard::common
