// The durable outbox: entries survive until a receipt is saved, a controller
// that is down stops a delivery pass without losing anything, a refusal
// moves the entry aside with its reason, and backoff stays within its bounds.
#include "agent/service/outbox.h"

#include <gtest/gtest.h>

#include <boost/filesystem/operations.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "agent/service/controller_client.h"
#include "common/encoding/hex.h"
#include "common/io/read_file.h"
#include "common/merkle/merkle.h"
#include "common/signed/signed_messages.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

offboard::v1::Receipt ReceiptAt(uint64_t index) {
  offboard::v1::Receipt receipt;
  receipt.set_log_index(index);
  receipt.set_leaf_hash_hex(std::string(64, 'a'));
  return receipt;
}

const auto kNeverStop = [] { return false; };

// The controller's key, and the receipt it gives for an envelope that is the
// only leaf of its log.
const common::Ed25519PrivateKey& ControllerKey() {
  static const common::Ed25519PrivateKey key = *common::Ed25519PrivateKey::Generate();
  return key;
}

offboard::v1::Receipt SignedReceipt(const std::string& envelope) {
  const common::MerkleHash leaf = common::LeafHash(envelope);
  offboard::v1::TreeHead head;
  head.set_tree_size(1);
  head.set_root_hash_hex(common::HexEncode(leaf));
  offboard::v1::Receipt receipt;
  receipt.set_leaf_hash_hex(common::HexEncode(leaf));
  receipt.set_signed_tree_head(common::SignTreeHead(head, ControllerKey()));
  return receipt;
}

TEST(OrderIdTest, OnlyNamesThatAreSafeAsFileNames) {
  EXPECT_TRUE(IsSafeOrderId("order-0123abcd"));
  EXPECT_TRUE(IsSafeOrderId("a.b_c-D"));
  EXPECT_FALSE(IsSafeOrderId(""));
  EXPECT_FALSE(IsSafeOrderId(".."));
  EXPECT_FALSE(IsSafeOrderId(".hidden"));
  EXPECT_FALSE(IsSafeOrderId("../etc/passwd"));
  EXPECT_FALSE(IsSafeOrderId("a/b"));
  EXPECT_FALSE(IsSafeOrderId(std::string(129, 'a')));
}

TEST(OutboxTest, PutKeepsTheEnvelopeByteForByteUntilDelivered) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  const std::string envelope = "{\"payload\":\"x\"}\n\x01 bytes";
  ASSERT_TRUE(outbox.Put("order-1", {envelope}).ok());
  ASSERT_TRUE(outbox.Put("order-0", {"other"}).ok());
  EXPECT_EQ(*outbox.Pending(), (std::vector<std::string>{"order-0", "order-1"}));
  EXPECT_EQ(*outbox.Read("order-1"), envelope);
  EXPECT_FALSE(outbox.HasReceipt("order-1"));

  // A second Outbox on the same directory (a restarted agent) sees the same.
  Outbox reopened(temp.path());
  EXPECT_EQ(reopened.Pending()->size(), 2u);

  ASSERT_TRUE(outbox.Delivered("order-1", ReceiptAt(7)).ok());
  EXPECT_TRUE(outbox.HasReceipt("order-1"));
  EXPECT_EQ(*outbox.Pending(), std::vector<std::string>{"order-0"});
  const std::string receipt = *common::ReadFileToString(outbox.ReceiptPath("order-1"));
  EXPECT_NE(receipt.find("\"log_index\": \"7\""), std::string::npos) << receipt;
}

TEST(OutboxTest, RefusesUnsafeOrderIds) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  EXPECT_EQ(outbox.Put("../escape", {"x"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(temp.path() / "escape.dsse.json"));
  EXPECT_TRUE(outbox.Pending()->empty());
}

TEST(OutboxTest, IgnoresTemporariesAndStrayFiles) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("order-1", {"x"}).ok());
  temp.WriteFile("outbox/.order-2.dsse.json.tmp-123", "half");
  temp.WriteFile("outbox/notes.txt", "n");
  EXPECT_EQ(*outbox.Pending(), std::vector<std::string>{"order-1"});
}

TEST(DeliverOutboxTest, DeliversEverythingAndSavesReceipts) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("a", {"envelope-a"}).ok());
  ASSERT_TRUE(outbox.Put("b", {"envelope-b"}).ok());
  std::map<std::string, std::string> submitted;
  const DeliveryReport report = DeliverOutbox(
      outbox,
      [&](const std::string& order_id, const std::string& envelope) {
        submitted[order_id] = envelope;
        return absl::StatusOr<offboard::v1::Receipt>(SignedReceipt(envelope));
      },
      ControllerKey().PublicKey(), kNeverStop);
  EXPECT_EQ(report.delivered, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(report.pending, 0u);
  EXPECT_TRUE(report.transient.ok());
  EXPECT_EQ(submitted["a"], "envelope-a");
  EXPECT_EQ(submitted["b"], "envelope-b");
  EXPECT_TRUE(outbox.HasReceipt("a") && outbox.HasReceipt("b"));
}

// Parts of one attestation are entries of their own, named so that no
// order id can be mistaken for one.
TEST(OutboxTest, PartEntriesNameTheirOrderAndNothingElseDoes) {
  EXPECT_EQ(PartEntry("o-1", 2, 13), "o-1+part-00002-of-00013");
  EXPECT_EQ(OrderOfEntry("o-1+part-00002-of-00013"), "o-1");
  EXPECT_EQ(OrderOfEntry("o-1"), "o-1");
  EXPECT_EQ(OrderOfEntry("o-1.part-00002-of-00013"), "o-1.part-00002-of-00013");
  for (const char* bad :
       {"o-1+part-2-of-13", "o-1+part-00003-of-00002", "o-1+part-00000-of-00002",
        "o-1+part-00001-of-99999", "+part-00001-of-00002", "../o+part-00001-of-00002",
        "o-1+part-00001-of-00002x", "o-1+00001-of-00002", "o+1", "o-1+part-00001-of-00001"}) {
    EXPECT_EQ(OrderOfEntry(bad), "") << bad;
  }
}

TEST(DeliverOutboxTest, AnOrderInPartsIsDeliveredOnceEveryPartHasItsReceipt) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("a", {"whole a"}).ok());
  ASSERT_TRUE(outbox.Put("b", {"b 1", "b 2", "b 3"}).ok());
  EXPECT_EQ(*outbox.Pending(),
            (std::vector<std::string>{"a", PartEntry("b", 1, 3), PartEntry("b", 2, 3),
                                      PartEntry("b", 3, 3)}));
  std::vector<std::pair<std::string, std::string>> submitted;
  int calls = 0;
  const auto submit = [&](const std::string& order_id, const std::string& envelope) {
    // The controller is gone after the third call.
    if (++calls > 3) return absl::StatusOr<offboard::v1::Receipt>(absl::UnavailableError("down"));
    submitted.emplace_back(order_id, envelope);
    return absl::StatusOr<offboard::v1::Receipt>(SignedReceipt(envelope));
  };
  DeliveryReport report = DeliverOutbox(outbox, submit, ControllerKey().PublicKey(), kNeverStop);
  EXPECT_EQ(report.delivered,
            (std::vector<std::string>{"a", PartEntry("b", 1, 3), PartEntry("b", 2, 3)}));
  EXPECT_EQ(submitted, (std::vector<std::pair<std::string, std::string>>{
                           {"a", "whole a"}, {"b", "b 1"}, {"b", "b 2"}}));
  EXPECT_TRUE(outbox.HasReceipt("a"));
  EXPECT_FALSE(outbox.HasReceipt("b"));
  EXPECT_EQ(report.pending, 1u);

  calls = 0;
  report = DeliverOutbox(outbox, submit, ControllerKey().PublicKey(), kNeverStop);
  EXPECT_EQ(report.delivered, std::vector<std::string>{PartEntry("b", 3, 3)});
  EXPECT_TRUE(outbox.HasReceipt("b"));
  EXPECT_TRUE(fs::exists(outbox.ReceiptPath(PartEntry("b", 3, 3))));
  EXPECT_FALSE(outbox.WasRefused("b"));
}

TEST(DeliverOutboxTest, ARefusedPartRefusesItsOrder) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("b", {"b 1", "b 2"}).ok());
  const DeliveryReport report = DeliverOutbox(
      outbox,
      [&](const std::string&, const std::string& envelope) {
        if (envelope == "b 2") {
          return absl::StatusOr<offboard::v1::Receipt>(absl::AlreadyExistsError("another run"));
        }
        return absl::StatusOr<offboard::v1::Receipt>(SignedReceipt(envelope));
      },
      ControllerKey().PublicKey(), kNeverStop);
  ASSERT_EQ(report.refused.size(), 1u);
  EXPECT_EQ(report.refused[0].first, PartEntry("b", 2, 2));
  EXPECT_FALSE(outbox.HasReceipt("b"));
  ASSERT_TRUE(outbox.Refusal("b").has_value());
  EXPECT_EQ(*outbox.Refusal("b"), outbox.RefusedPath(PartEntry("b", 2, 2)));
  EXPECT_FALSE(outbox.WasRefused("a"));
}

// Queued again in another cut (one envelope instead of parts, or the other
// way round), the order's old entries go: nothing is sent twice over.
TEST(OutboxTest, PuttingAnOrderAgainReplacesItsEntries) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("b", {"b 1", "b 2", "b 3"}).ok());
  ASSERT_TRUE(outbox.Put("bb", {"other order"}).ok());
  ASSERT_TRUE(outbox.Put("b", {"b 1 of 2", "b 2 of 2"}).ok());
  EXPECT_EQ(*outbox.Pending(),
            (std::vector<std::string>{PartEntry("b", 1, 2), PartEntry("b", 2, 2), "bb"}));
  ASSERT_TRUE(outbox.Put("b", {"whole b"}).ok());
  EXPECT_EQ(*outbox.Pending(), (std::vector<std::string>{"b", "bb"}));
  EXPECT_EQ(*outbox.Read("b"), "whole b");
  EXPECT_EQ(outbox.Put("b", {}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(DeliverOutboxTest, AnUnreachableControllerKeepsEverythingForLater) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("a", {"envelope-a"}).ok());
  ASSERT_TRUE(outbox.Put("b", {"envelope-b"}).ok());
  int calls = 0;
  const DeliveryReport down = DeliverOutbox(
      outbox,
      [&](const std::string&, const std::string&) -> absl::StatusOr<offboard::v1::Receipt> {
        ++calls;
        return absl::UnavailableError("connection refused");
      },
      ControllerKey().PublicKey(), kNeverStop);
  EXPECT_EQ(calls, 1);  // no point trying the rest
  EXPECT_EQ(down.transient.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(down.pending, 2u);
  EXPECT_TRUE(down.refused.empty());

  const DeliveryReport slow = DeliverOutbox(
      outbox,
      [&](const std::string& order_id,
          const std::string& envelope) -> absl::StatusOr<offboard::v1::Receipt> {
        if (order_id == "b") return absl::DeadlineExceededError("slow");
        return SignedReceipt(envelope);
      },
      ControllerKey().PublicKey(), kNeverStop);
  EXPECT_EQ(slow.delivered, std::vector<std::string>{"a"});
  EXPECT_EQ(slow.pending, 1u);
  EXPECT_EQ(*outbox.Read("b"), "envelope-b");

  // The controller's own failure (its database could not commit) is no
  // refusal: the attestation stays to be sent again.
  for (const absl::Status& failure : {absl::InternalError("disk I/O error"),
                                      absl::DataLossError("log"), absl::UnknownError("?")}) {
    const DeliveryReport failed = DeliverOutbox(
        outbox,
        [&](const std::string&, const std::string&) -> absl::StatusOr<offboard::v1::Receipt> {
          return failure;
        },
        ControllerKey().PublicKey(), kNeverStop);
    EXPECT_EQ(failed.transient, failure);
    EXPECT_TRUE(failed.refused.empty()) << failure;
    EXPECT_EQ(*outbox.Read("b"), "envelope-b");
  }
}

TEST(DeliverOutboxTest, ARefusalMovesTheEntryAsideWithItsReason) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("a", {"envelope-a"}).ok());
  ASSERT_TRUE(outbox.Put("b", {"envelope-b"}).ok());
  const DeliveryReport report = DeliverOutbox(
      outbox,
      [&](const std::string& order_id,
          const std::string& envelope) -> absl::StatusOr<offboard::v1::Receipt> {
        if (order_id == "a") return absl::PermissionDeniedError("not your order");
        return SignedReceipt(envelope);
      },
      ControllerKey().PublicKey(), kNeverStop);
  ASSERT_EQ(report.refused.size(), 1u);
  EXPECT_EQ(report.refused[0].first, "a");
  EXPECT_NE(report.refused[0].second.find("not your order"), std::string::npos);
  EXPECT_EQ(report.delivered, std::vector<std::string>{"b"});  // the rest still goes
  EXPECT_EQ(report.pending, 0u);
  EXPECT_TRUE(outbox.WasRefused("a"));
  EXPECT_FALSE(outbox.HasReceipt("a"));
  EXPECT_EQ(*common::ReadFileToString(outbox.RefusedPath("a")), "envelope-a");
  const std::string reason =
      *common::ReadFileToString(temp.path() / "outbox" / "refused" / "a.reason.txt");
  EXPECT_NE(reason.find("PERMISSION_DENIED"), std::string::npos) << reason;
}

// An attestation larger than one message may carry is set aside with its
// reason (exit 1 for the run), not retried forever in front of the others.
TEST(DeliverOutboxTest, AnAttestationTooLargeToSendIsSetAsideNotRetried) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  const std::string huge(kMaxEnvelopeBytes + 1, 'x');
  ASSERT_TRUE(outbox.Put("a-huge", {huge}).ok());
  ASSERT_TRUE(outbox.Put("b", {"envelope-b"}).ok());
  std::vector<std::string> sent;
  const DeliveryReport report = DeliverOutbox(
      outbox,
      [&](const std::string& order_id,
          const std::string& envelope) -> absl::StatusOr<offboard::v1::Receipt> {
        sent.push_back(order_id);
        return SignedReceipt(envelope);
      },
      ControllerKey().PublicKey(), kNeverStop);
  EXPECT_TRUE(report.local.ok()) << report.local;
  EXPECT_EQ(sent, std::vector<std::string>{"b"});
  EXPECT_EQ(report.delivered, std::vector<std::string>{"b"});
  ASSERT_EQ(report.refused.size(), 1u);
  EXPECT_EQ(report.refused[0].first, "a-huge");
  EXPECT_NE(report.refused[0].second.find("not sent"), std::string::npos);
  EXPECT_TRUE(outbox.WasRefused("a-huge"));
  EXPECT_EQ(report.pending, 0u);
}

TEST(DeliverOutboxTest, StopsWhenAStopIsRequested) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("a", {"x"}).ok());
  ASSERT_TRUE(outbox.Put("b", {"y"}).ok());
  int calls = 0;
  bool stop = false;
  const DeliveryReport report = DeliverOutbox(
      outbox,
      [&](const std::string&,
          const std::string& envelope) -> absl::StatusOr<offboard::v1::Receipt> {
        ++calls;
        stop = true;  // SIGTERM arrives during the first submit
        return SignedReceipt(envelope);
      },
      ControllerKey().PublicKey(), [&] { return stop; });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(report.delivered.size(), 1u);
  EXPECT_EQ(report.pending, 1u);
}

// A receipt proves delivery only when it verifies: signed by the controller's
// key, for this envelope. Anything else keeps the attestation for a resend.
TEST(DeliverOutboxTest, AReceiptThatDoesNotVerifyKeepsTheAttestation) {
  testing::TempDir temp;
  Outbox outbox(temp.path());
  ASSERT_TRUE(outbox.Put("a", {"envelope-a"}).ok());
  ASSERT_TRUE(outbox.Put("b", {"envelope-b"}).ok());
  const auto other_key = *common::Ed25519PrivateKey::Generate();
  for (const auto& [what, bad] : std::vector<std::pair<std::string, offboard::v1::Receipt>>{
           {"another envelope's", SignedReceipt("envelope-b")},
           {"unsigned", ReceiptAt(0)},
           {"another key's", [&] {
              offboard::v1::Receipt receipt = SignedReceipt("envelope-a");
              offboard::v1::TreeHead head;
              head.set_tree_size(1);
              head.set_root_hash_hex(receipt.leaf_hash_hex());
              receipt.set_signed_tree_head(common::SignTreeHead(head, other_key));
              return receipt;
            }()}}) {
    int calls = 0;
    const DeliveryReport report = DeliverOutbox(
        outbox,
        [&](const std::string&, const std::string&) -> absl::StatusOr<offboard::v1::Receipt> {
          ++calls;
          return bad;
        },
        ControllerKey().PublicKey(), kNeverStop);
    EXPECT_EQ(calls, 1) << what;
    EXPECT_TRUE(report.delivered.empty()) << what;
    EXPECT_TRUE(report.refused.empty()) << what;
    EXPECT_EQ(report.transient.code(), absl::StatusCode::kUnavailable) << what;
    EXPECT_NE(report.transient.message().find("receipt does not verify"), std::string::npos)
        << what << ": " << report.transient;
    EXPECT_EQ(report.pending, 2u) << what;
    EXPECT_FALSE(outbox.HasReceipt("a")) << what;
  }
}

TEST(BackoffTest, DoublesWithJitterUpToTheCap) {
  Backoff backoff(std::chrono::milliseconds(1000), std::chrono::milliseconds(60000));
  int64_t expected_high = 1000;
  for (int attempt = 0; attempt < 12; ++attempt) {
    const int64_t delay = backoff.Next().count();
    EXPECT_GE(delay, expected_high / 2) << attempt;
    EXPECT_LE(delay, expected_high) << attempt;
    expected_high = std::min<int64_t>(60000, expected_high * 2);
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next().count(), 1000);
}

}  // namespace
}  // namespace offboard::agent
