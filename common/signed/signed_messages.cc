#include "common/signed/signed_messages.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/merkle/merkle.h"
#include "common/policy/wipe_policy.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::Status FromJson(absl::string_view json, google::protobuf::Message* message,
                      absl::string_view what) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status =
      google::protobuf::util::JsonStringToMessage(std::string(json), message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", status.message().as_string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> VerifiedPayloadOf(absl::string_view envelope,
                                              const Ed25519PublicKey& key,
                                              absl::string_view payload_type) {
  DsseVerifier verifier({{key.KeyId(), key}}, 1, {std::string(payload_type)});
  OFFBOARD_ASSIGN_OR_RETURN(common::VerifiedPayload verified, verifier.Verify(envelope));
  return std::move(verified.payload);
}

}  // namespace

std::string SignWipeOrder(const offboard::v1::WipeOrder& order, const Ed25519PrivateKey& key) {
  return SerializeDsseEnvelope(SignDsse(kWipeOrderPayloadType, ToJson(order), key));
}

absl::StatusOr<offboard::v1::WipeOrder> VerifyWipeOrderSignature(
    absl::string_view envelope, const Ed25519PublicKey& controller_key) {
  OFFBOARD_ASSIGN_OR_RETURN(std::string payload,
                            VerifiedPayloadOf(envelope, controller_key, kWipeOrderPayloadType));
  offboard::v1::WipeOrder order;
  OFFBOARD_RETURN_IF_ERROR(FromJson(payload, &order, "wipe order"));
  if (order.order_id().empty()) return absl::InvalidArgumentError("wipe order: no order_id");
  if (!IsLowerHex(order.nonce_hex(), 32)) {
    return absl::InvalidArgumentError(
        absl::StrCat("wipe order ", order.order_id(), ": nonce_hex is not 256 bits of hex"));
  }
  OFFBOARD_RETURN_IF_ERROR(
      ValidateWipePolicy(order.policy(), absl::StrCat("wipe order ", order.order_id(), " policy")));
  return order;
}

absl::StatusOr<offboard::v1::WipeOrder> VerifyWipeOrder(absl::string_view envelope,
                                                        const Ed25519PublicKey& controller_key,
                                                        int64_t now_unix) {
  OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::WipeOrder order,
                            VerifyWipeOrderSignature(envelope, controller_key));
  if (!order.has_expires_at() || order.expires_at().seconds() <= now_unix) {
    return absl::FailedPreconditionError(absl::StrCat(
        "wipe order ", order.order_id(), " expired at ",
        google::protobuf::util::TimeUtil::ToString(order.expires_at())));
  }
  return order;
}

std::string SignTreeHead(const offboard::v1::TreeHead& head, const Ed25519PrivateKey& key) {
  return SerializeDsseEnvelope(SignDsse(kTreeHeadPayloadType, ToJson(head), key));
}

absl::StatusOr<offboard::v1::TreeHead> VerifyTreeHead(absl::string_view envelope,
                                                      const Ed25519PublicKey& controller_key) {
  OFFBOARD_ASSIGN_OR_RETURN(std::string payload,
                            VerifiedPayloadOf(envelope, controller_key, kTreeHeadPayloadType));
  offboard::v1::TreeHead head;
  OFFBOARD_RETURN_IF_ERROR(FromJson(payload, &head, "tree head"));
  if (!IsLowerHex(head.root_hash_hex(), 32)) {
    return absl::InvalidArgumentError("tree head: root_hash_hex is not a SHA-256");
  }
  return head;
}

absl::StatusOr<offboard::v1::TreeHead> VerifyReceipt(const offboard::v1::Receipt& receipt,
                                                     absl::string_view envelope,
                                                     const Ed25519PublicKey& controller_key) {
  OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::TreeHead head,
                            VerifyTreeHead(receipt.signed_tree_head(), controller_key));
  const MerkleHash leaf = LeafHash(std::string_view(envelope.data(), envelope.size()));
  if (receipt.leaf_hash_hex() != HexEncode(leaf)) {
    return absl::InvalidArgumentError(absl::StrCat("receipt: leaf hash ", receipt.leaf_hash_hex(),
                                                   " is not the attestation's ", HexEncode(leaf)));
  }
  const absl::StatusOr<std::vector<MerkleHash>> proof =
      MerkleHashesFromHex(std::vector<std::string>(receipt.inclusion_proof_hex().begin(),
                                                   receipt.inclusion_proof_hex().end()));
  if (!proof.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt: inclusion proof: ", proof.status().message()));
  }
  OFFBOARD_ASSIGN_OR_RETURN(const MerkleHash root, MerkleHashFromHex(head.root_hash_hex()));
  if (absl::Status included =
          VerifyInclusion(leaf, receipt.log_index(), head.tree_size(), *proof, root);
      !included.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("receipt: leaf ", receipt.log_index(),
                                                   " is not in the signed tree of size ",
                                                   head.tree_size(), ": ", included.message()));
  }
  return head;
}

}  // namespace offboard::common
