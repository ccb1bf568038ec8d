// The DSSE envelope parser: what it accepts serializes back to an envelope
// that parses to the same payload, type and signatures; verifying a parsed
// envelope against a key never crashes.
#include <string>

#include "common/crypto/ed25519.h"
#include "common/dsse/envelope.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using offboard::common::DsseEnvelope;
  // Verification parses too, then checks the payload type and signatures:
  // with a key the input cannot have signed with, it must never succeed.
  static const offboard::common::Ed25519PrivateKey key =
      *offboard::common::Ed25519PrivateKey::Generate();
  static const offboard::common::DsseVerifier verifier(
      {{key.PublicKey().KeyId(), key.PublicKey()}}, 1,
      {std::string(offboard::common::kInTotoPayloadType)});
  OFFBOARD_FUZZ_CHECK(!verifier.Verify(offboard::fuzz::AsAbslText(data, size)).ok(),
                      "an envelope verified against a key made at random");
  auto envelope = offboard::common::ParseDsseEnvelope(offboard::fuzz::AsAbslText(data, size));
  if (!envelope.ok()) {
    OFFBOARD_FUZZ_CHECK(!envelope.status().message().empty(), "an error without a message");
    return 0;
  }
  auto again =
      offboard::common::ParseDsseEnvelope(offboard::common::SerializeDsseEnvelope(*envelope));
  OFFBOARD_FUZZ_CHECK(again.ok(), "re-serialized envelope refused: " + again.status().ToString());
  OFFBOARD_FUZZ_CHECK(again->payload == envelope->payload, "payload changed in a round trip");
  OFFBOARD_FUZZ_CHECK(again->payload_type == envelope->payload_type,
                      "type changed in a round trip");
  OFFBOARD_FUZZ_CHECK(again->signatures.size() == envelope->signatures.size(),
                      "signature count changed in a round trip");
  for (size_t i = 0; i < again->signatures.size(); ++i) {
    OFFBOARD_FUZZ_CHECK(again->signatures[i].sig == envelope->signatures[i].sig &&
                            again->signatures[i].keyid == envelope->signatures[i].keyid,
                        "signature changed in a round trip");
  }
  return 0;
}
