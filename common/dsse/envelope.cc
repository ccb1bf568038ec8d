#include "common/dsse/envelope.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <simdjson.h>
#include <string_view>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json/duplicate_keys.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

// One parser per thread: it keeps its buffers between envelopes.
simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

absl::StatusOr<absl::string_view> RequireString(simdjson::dom::object object, const char* key,
                                                absl::string_view where) {
  simdjson::dom::element value;
  if (object[key].get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("DSSE envelope: ", where, "missing field '", key, "'"));
  }
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("DSSE envelope: ", where, "field '", key, "' must be a string"));
  }
  return absl::string_view(text.data(), text.size());
}

}  // namespace

std::string PreAuthEncoding(absl::string_view payload_type, absl::string_view payload) {
  return absl::StrCat("DSSEv1 ", payload_type.size(), " ", payload_type, " ", payload.size(), " ",
                      payload);
}

absl::StatusOr<std::string> DecodeDsseBase64(absl::string_view text) {
  // One table-driven pass that checks and decodes: envelopes carry payloads
  // of hundreds of kilobytes, and every verifier decodes each of them.
  enum : uint8_t { kInvalid = 0xff, kStandardOnly = 0x40, kUrlOnly = 0x80 };
  static constexpr auto kTable = [] {
    std::array<uint8_t, 256> table{};
    table.fill(kInvalid);
    for (int i = 0; i < 26; ++i) table['A' + i] = static_cast<uint8_t>(i);
    for (int i = 0; i < 26; ++i) table['a' + i] = static_cast<uint8_t>(26 + i);
    for (int i = 0; i < 10; ++i) table['0' + i] = static_cast<uint8_t>(52 + i);
    table['+'] = 62 | kStandardOnly;
    table['/'] = 63 | kStandardOnly;
    table['-'] = 62 | kUrlOnly;
    table['_'] = 63 | kUrlOnly;
    return table;
  }();
  size_t data_length = text.size();
  while (data_length > 0 && text[data_length - 1] == '=') --data_length;
  const size_t padding = text.size() - data_length;
  if (data_length % 4 == 1 || padding > 2 || (padding > 0 && (data_length + padding) % 4 != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("base64 of invalid length ", text.size()));
  }
  std::string decoded;
  decoded.resize(data_length / 4 * 3 + (data_length % 4 == 0 ? 0 : data_length % 4 - 1));
  uint8_t alphabets = 0;  // kStandardOnly and/or kUrlOnly seen
  uint32_t accumulator = 0;
  size_t out = 0;
  for (size_t i = 0; i < data_length; ++i) {
    const uint8_t value = kTable[static_cast<unsigned char>(text[i])];
    if (value == kInvalid) {
      return absl::InvalidArgumentError(absl::StrCat("invalid base64 character at position ", i));
    }
    alphabets |= value & (kStandardOnly | kUrlOnly);
    accumulator = accumulator << 6 | (value & 0x3f);
    if (i % 4 == 3) {
      decoded[out++] = static_cast<char>(accumulator >> 16);
      decoded[out++] = static_cast<char>(accumulator >> 8);
      decoded[out++] = static_cast<char>(accumulator);
      accumulator = 0;
    }
  }
  if (alphabets == (kStandardOnly | kUrlOnly)) {
    return absl::InvalidArgumentError("base64 mixes the standard and URL-safe alphabets");
  }
  // The last group: 2 or 3 characters give 1 or 2 bytes; the bits left over
  // must be zero, as RFC 4648 asks of canonical encoders.
  switch (data_length % 4) {
    case 2:
      if ((accumulator & 0xf) != 0) return absl::InvalidArgumentError("base64 does not decode");
      decoded[out++] = static_cast<char>(accumulator >> 4);
      break;
    case 3:
      if ((accumulator & 0x3) != 0) return absl::InvalidArgumentError("base64 does not decode");
      decoded[out++] = static_cast<char>(accumulator >> 10);
      decoded[out++] = static_cast<char>(accumulator >> 2);
      break;
    default:
      break;
  }
  return decoded;
}

absl::StatusOr<DsseEnvelope> ParseDsseEnvelope(absl::string_view json) {
  // simdjson: envelopes carry their payload as one long base64 string, which
  // a character-at-a-time parser spends most of an attestation's time on.
  simdjson::dom::element document;
  if (ThreadParser().parse(json.data(), json.size()).get(document) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("DSSE envelope: not valid JSON");
  }
  // Two "payload"s could be read one way here and another way elsewhere.
  OFFBOARD_RETURN_IF_ERROR(CheckNoDuplicateKeys(document, "DSSE envelope"));
  simdjson::dom::object top;
  if (document.get_object().get(top) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("DSSE envelope: top level must be a JSON object");
  }
  DsseEnvelope envelope;
  OFFBOARD_ASSIGN_OR_RETURN(absl::string_view payload_b64, RequireString(top, "payload", ""));
  absl::StatusOr<std::string> payload = DecodeDsseBase64(payload_b64);
  if (!payload.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DSSE envelope: field 'payload': ", payload.status().message()));
  }
  envelope.payload = *std::move(payload);
  OFFBOARD_ASSIGN_OR_RETURN(absl::string_view payload_type, RequireString(top, "payloadType", ""));
  envelope.payload_type = std::string(payload_type);

  simdjson::dom::array signatures;
  if (top["signatures"].get_array().get(signatures) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("DSSE envelope: field 'signatures' must be an array");
  }
  size_t i = 0;
  for (simdjson::dom::element entry_value : signatures) {
    const std::string where = absl::StrCat("signatures[", i++, "]: ");
    simdjson::dom::object entry;
    if (entry_value.get_object().get(entry) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("DSSE envelope: ", where, "must be an object"));
    }
    DsseSignature signature;
    OFFBOARD_ASSIGN_OR_RETURN(absl::string_view sig_b64, RequireString(entry, "sig", where));
    absl::StatusOr<std::string> sig = DecodeDsseBase64(sig_b64);
    if (!sig.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("DSSE envelope: ", where, "field 'sig': ", sig.status().message()));
    }
    signature.sig = *std::move(sig);
    simdjson::dom::element keyid;
    if (entry["keyid"].get(keyid) == simdjson::SUCCESS) {
      OFFBOARD_ASSIGN_OR_RETURN(absl::string_view id, RequireString(entry, "keyid", where));
      signature.keyid = std::string(id);
    }
    envelope.signatures.push_back(std::move(signature));
  }
  return envelope;
}

std::string SerializeDsseEnvelope(const DsseEnvelope& envelope) {
  nlohmann::ordered_json document;
  document["payload"] = absl::Base64Escape(envelope.payload);
  document["payloadType"] = envelope.payload_type;
  document["signatures"] = nlohmann::ordered_json::array();
  for (const DsseSignature& signature : envelope.signatures) {
    nlohmann::ordered_json entry;
    entry["keyid"] = signature.keyid;
    entry["sig"] = absl::Base64Escape(signature.sig);
    document["signatures"].push_back(std::move(entry));
  }
  return document.dump();
}

DsseEnvelope SignDsse(absl::string_view payload_type, absl::string_view payload,
                      const Ed25519PrivateKey& key) {
  DsseEnvelope envelope;
  envelope.payload = std::string(payload);
  envelope.payload_type = std::string(payload_type);
  AddDsseSignature(envelope, key);
  return envelope;
}

void AddDsseSignature(DsseEnvelope& envelope, const Ed25519PrivateKey& key) {
  envelope.signatures.push_back(
      DsseSignature{.keyid = key.KeyId(),
                    .sig = key.Sign(PreAuthEncoding(envelope.payload_type, envelope.payload))});
}

DsseVerifier::DsseVerifier(std::vector<TrustedKey> trusted_keys, size_t threshold,
                           std::vector<std::string> supported_payload_types)
    : trusted_keys_(std::move(trusted_keys)),
      threshold_(std::max<size_t>(threshold, 1)),
      supported_payload_types_(std::move(supported_payload_types)) {}

absl::StatusOr<VerifiedPayload> DsseVerifier::Verify(const DsseEnvelope& envelope) const {
  if (envelope.payload_type.empty() ||
      std::find(supported_payload_types_.begin(), supported_payload_types_.end(),
                envelope.payload_type) == supported_payload_types_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DSSE envelope: unsupported payloadType '", envelope.payload_type, "'"));
  }
  const std::string pae = PreAuthEncoding(envelope.payload_type, envelope.payload);

  // Distinct keys are counted by their public key, not by their keyid, so that
  // one key listed under two ids cannot meet a threshold of two alone.
  std::vector<const TrustedKey*> signers;
  auto already_counted = [&signers](const TrustedKey& candidate) {
    return std::any_of(signers.begin(), signers.end(),
                       [&](const TrustedKey* signer) { return signer->key == candidate.key; });
  };
  for (const DsseSignature& signature : envelope.signatures) {
    const bool named =
        !signature.keyid.empty() &&
        std::any_of(trusted_keys_.begin(), trusted_keys_.end(),
                    [&](const TrustedKey& trusted) { return trusted.keyid == signature.keyid; });
    for (const TrustedKey& trusted : trusted_keys_) {
      if (named && trusted.keyid != signature.keyid) continue;
      if (already_counted(trusted)) continue;
      if (trusted.key.Verify(pae, signature.sig).ok()) {
        signers.push_back(&trusted);
        break;
      }
    }
  }
  if (signers.size() < threshold_) {
    return absl::UnauthenticatedError(
        absl::StrCat("DSSE envelope: ", signers.size(), " of ", envelope.signatures.size(),
                     " signatures verified by distinct trusted keys, threshold is ", threshold_));
  }
  VerifiedPayload verified{
      .payload_type = envelope.payload_type, .payload = envelope.payload, .keyids = {}};
  for (const TrustedKey* signer : signers) verified.keyids.push_back(signer->keyid);
  return verified;
}

absl::StatusOr<VerifiedPayload> DsseVerifier::Verify(absl::string_view envelope_json) const {
  OFFBOARD_ASSIGN_OR_RETURN(DsseEnvelope envelope, ParseDsseEnvelope(envelope_json));
  return Verify(envelope);
}

}  // namespace offboard::common
