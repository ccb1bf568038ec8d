// The controller's signed messages: wipe orders (which an agent must verify
// before it destroys anything) and tree heads of the transparency log (which
// receipts and evidence packages carry). Each is the proto3 JSON form of its
// message (offboard/v1/*.proto) signed as a DSSE envelope with the
// controller's Ed25519 key, under a payload type of its own so that one can
// never be taken for the other.
//
//   std::string wire = SignWipeOrder(order, controller_key);
//   OFFBOARD_ASSIGN_OR_RETURN(v1::WipeOrder order, VerifyWipeOrder(wire, controller_public, now));
//
//   OFFBOARD_ASSIGN_OR_RETURN(v1::TreeHead head, VerifyReceipt(receipt, envelope,
//   controller_public));
//
// Thread-safe: pure functions.
#ifndef OFFBOARD_COMMON_SIGNED_SIGNED_MESSAGES_H_
#define OFFBOARD_COMMON_SIGNED_SIGNED_MESSAGES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ed25519.h"
#include "offboard/v1/attestation.pb.h"
#include "offboard/v1/orders.pb.h"

namespace offboard::common {

inline constexpr absl::string_view kWipeOrderPayloadType =
    "application/vnd.offboard.wipe-order+json";
inline constexpr absl::string_view kTreeHeadPayloadType = "application/vnd.offboard.tree-head+json";

// The envelope JSON, to be stored and sent byte for byte.
std::string SignWipeOrder(const offboard::v1::WipeOrder& order, const Ed25519PrivateKey& key);

// Checks the envelope's signature by `controller_key` (UNAUTHENTICATED), its
// payload type and JSON (INVALID_ARGUMENT naming the field), that the order
// has an id, a 256-bit nonce and a valid policy (INVALID_ARGUMENT), and that it
// has not expired at `now_unix` (FAILED_PRECONDITION naming the expiry).
absl::StatusOr<offboard::v1::WipeOrder> VerifyWipeOrder(absl::string_view envelope,
                                                        const Ed25519PublicKey& controller_key,
                                                        int64_t now_unix);

// The same checks but expiry: for an auditor looking back at orders that
// have long expired.
absl::StatusOr<offboard::v1::WipeOrder> VerifyWipeOrderSignature(
    absl::string_view envelope, const Ed25519PublicKey& controller_key);

std::string SignTreeHead(const offboard::v1::TreeHead& head, const Ed25519PrivateKey& key);
// UNAUTHENTICATED for a bad signature; INVALID_ARGUMENT for a bad payload.
absl::StatusOr<offboard::v1::TreeHead> VerifyTreeHead(absl::string_view envelope,
                                                      const Ed25519PublicKey& controller_key);

// The receipt the controller answered `envelope` with, checked as anyone can
// check it offline: its tree head is signed by `controller_key`, its leaf
// hash is the envelope's RFC 9162 leaf hash, and its inclusion proof leads
// from that leaf at its log index to the head's root. Returns the head.
// UNAUTHENTICATED when the head is not the controller's; INVALID_ARGUMENT
// saying which other part does not hold.
absl::StatusOr<offboard::v1::TreeHead> VerifyReceipt(const offboard::v1::Receipt& receipt,
                                                     absl::string_view envelope,
                                                     const Ed25519PublicKey& controller_key);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_SIGNED_SIGNED_MESSAGES_H_
