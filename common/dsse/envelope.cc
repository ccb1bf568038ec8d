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
  // Envelopes carry payloads of hundreds of kilobytes and every verifier
  // decodes each of them, so the loop is branch-free: per four characters,
  // four lookups in tables that hold each character's six bits already
  // shifted into place, with flags above bit 24 that are only collected here
  // and examined once at the end. An invalid character sets every flag.
  enum : uint32_t { kStandardOnly = 1u << 24, kUrlOnly = 1u << 25, kInvalid = 0xffu << 24 };
  static constexpr auto kShifted = [] {
    std::array<std::array<uint32_t, 256>, 4> tables{};
    for (int shift = 0; shift < 4; ++shift) {
      auto& table = tables[shift];
      table.fill(kInvalid);
      const auto set = [&](int c, uint32_t value, uint32_t flags) {
        table[c] = value << (18 - 6 * shift) | flags;
      };
      for (int i = 0; i < 26; ++i) set('A' + i, i, 0);
      for (int i = 0; i < 26; ++i) set('a' + i, 26 + i, 0);
      for (int i = 0; i < 10; ++i) set('0' + i, 52 + i, 0);
      set('+', 62, kStandardOnly);
      set('/', 63, kStandardOnly);
      set('-', 62, kUrlOnly);
      set('_', 63, kUrlOnly);
    }
    return tables;
  }();
  size_t data_length = text.size();
  while (data_length > 0 && text[data_length - 1] == '=') --data_length;
  const size_t padding = text.size() - data_length;
  if (data_length % 4 == 1 || padding > 2 || (padding > 0 && (data_length + padding) % 4 != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("base64 of invalid length ", text.size()));
  }
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  const size_t tail = data_length % 4;
  std::string decoded;
  decoded.resize(data_length / 4 * 3 + (tail == 0 ? 0 : tail - 1));
  char* out = decoded.data();
  uint32_t flags = 0;
  for (const unsigned char* end = in + (data_length - tail); in != end; in += 4, out += 3) {
    const uint32_t group =
        kShifted[0][in[0]] | kShifted[1][in[1]] | kShifted[2][in[2]] | kShifted[3][in[3]];
    flags |= group;
    out[0] = static_cast<char>(group >> 16);
    out[1] = static_cast<char>(group >> 8);
    out[2] = static_cast<char>(group);
  }
  // The last group: 2 or 3 characters give 1 or 2 bytes; the bits left over
  // must be zero, as RFC 4648 asks of canonical encoders.
  uint32_t last = 0;
  for (size_t i = 0; i < tail; ++i) last |= kShifted[i][in[i]];
  flags |= last;
  if ((flags & (kStandardOnly | kUrlOnly)) == (kStandardOnly | kUrlOnly)) {
    for (size_t i = 0; i < data_length; ++i) {
      if (kShifted[0][static_cast<unsigned char>(text[i])] == kInvalid) {
        return absl::InvalidArgumentError(absl::StrCat("invalid base64 character at position ", i));
      }
    }
    return absl::InvalidArgumentError("base64 mixes the standard and URL-safe alphabets");
  }
  if ((tail == 2 && (last & 0xffff) != 0) || (tail == 3 && (last & 0xff) != 0)) {
    return absl::InvalidArgumentError("base64 does not decode");
  }
  if (tail >= 2) out[0] = static_cast<char>(last >> 16);
  if (tail == 3) out[1] = static_cast<char>(last >> 8);
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
