// DSSE (Dead Simple Signing Envelope) v1: sign, encode, decode and verify.
//
// Every signed artefact in Offboard travels as a DSSE envelope: deletion
// attestations (payload: an in-toto Statement), wipe orders, tree heads and the
// evidence manifest. Anyone can check them with a standard DSSE implementation.
// Signatures are Ed25519 over the pre-authentication encoding
//   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
// where LEN is the decimal byte length.
//
//   DsseEnvelope envelope = SignDsse(kInTotoPayloadType, statement_json, key);
//   std::string wire = SerializeDsseEnvelope(envelope);  // stored byte for byte
//   DsseVerifier verifier({{key.KeyId(), key.PublicKey()}}, 1, {kInTotoPayloadType});
//   OFFBOARD_ASSIGN_OR_RETURN(VerifiedPayload verified, verifier.Verify(wire));
//
// All functions are thread-safe; a DsseVerifier is immutable once built.
#ifndef OFFBOARD_COMMON_DSSE_ENVELOPE_H_
#define OFFBOARD_COMMON_DSSE_ENVELOPE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ed25519.h"

namespace offboard::common {

inline constexpr absl::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

struct DsseSignature {
  std::string keyid;  // optional, an unauthenticated hint
  std::string sig;    // raw signature bytes (decoded)
};

struct DsseEnvelope {
  std::string payload;  // raw payload bytes (decoded)
  std::string payload_type;
  std::vector<DsseSignature> signatures;
};

std::string PreAuthEncoding(absl::string_view payload_type, absl::string_view payload);

// Decodes base64 in the standard or the URL-safe alphabet, with or without
// padding, as DSSE requires of verifiers. INVALID_ARGUMENT for anything else,
// including whitespace and a mix of both alphabets.
absl::StatusOr<std::string> DecodeDsseBase64(absl::string_view text);

// Parses the JSON envelope. INVALID_ARGUMENT, naming the field, when a required
// field is missing or of the wrong type, or base64 does not decode.
absl::StatusOr<DsseEnvelope> ParseDsseEnvelope(absl::string_view json);

// JSON with standard, padded base64, keys in a fixed order.
std::string SerializeDsseEnvelope(const DsseEnvelope& envelope);

// An envelope with one signature by `key`, whose keyid is key.KeyId().
DsseEnvelope SignDsse(absl::string_view payload_type, absl::string_view payload,
                      const Ed25519PrivateKey& key);
// Adds a further signature by `key` over the same PAE.
void AddDsseSignature(DsseEnvelope& envelope, const Ed25519PrivateKey& key);

struct TrustedKey {
  std::string keyid;  // the id signatures name it by
  Ed25519PublicKey key;
};

struct VerifiedPayload {
  std::string payload_type;
  std::string payload;
  std::vector<std::string> keyids;  // ids of the distinct trusted keys that signed
};

class DsseVerifier {
 public:
  // `threshold` distinct trusted keys must have signed; at least 1.
  DsseVerifier(std::vector<TrustedKey> trusted_keys, size_t threshold,
               std::vector<std::string> supported_payload_types);

  // INVALID_ARGUMENT for a payload type outside the supported set (an empty
  // type is never supported) or a malformed envelope; UNAUTHENTICATED when
  // fewer than `threshold` distinct trusted keys signed the PAE. A keyid that
  // names a trusted key restricts the check to that key; a signature without
  // a keyid, or with an unknown one, is tried against every trusted key.
  absl::StatusOr<VerifiedPayload> Verify(const DsseEnvelope& envelope) const;
  absl::StatusOr<VerifiedPayload> Verify(absl::string_view envelope_json) const;

 private:
  std::vector<TrustedKey> trusted_keys_;
  size_t threshold_;
  std::vector<std::string> supported_payload_types_;
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_DSSE_ENVELOPE_H_
