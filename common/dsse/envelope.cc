#include "common/dsse/envelope.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

bool IsBase64Core(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

absl::StatusOr<std::string> RequireString(const nlohmann::json& object, absl::string_view key,
                                          absl::string_view where) {
  const auto it = object.find(key);
  if (it == object.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DSSE envelope: ", where, "missing field '", key, "'"));
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DSSE envelope: ", where, "field '", key, "' must be a string"));
  }
  return it->get<std::string>();
}

}  // namespace

std::string PreAuthEncoding(absl::string_view payload_type, absl::string_view payload) {
  return absl::StrCat("DSSEv1 ", payload_type.size(), " ", payload_type, " ", payload.size(), " ",
                      payload);
}

absl::StatusOr<std::string> DecodeDsseBase64(absl::string_view text) {
  size_t data_length = text.size();
  while (data_length > 0 && text[data_length - 1] == '=') --data_length;
  const size_t padding = text.size() - data_length;
  bool standard = false;
  bool url_safe = false;
  for (size_t i = 0; i < data_length; ++i) {
    const char c = text[i];
    if (IsBase64Core(c)) continue;
    if (c == '+' || c == '/') {
      standard = true;
    } else if (c == '-' || c == '_') {
      url_safe = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid base64 character at position ", i));
    }
  }
  if (standard && url_safe) {
    return absl::InvalidArgumentError("base64 mixes the standard and URL-safe alphabets");
  }
  if (data_length % 4 == 1 || padding > 2 || (padding > 0 && (data_length + padding) % 4 != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("base64 of invalid length ", text.size()));
  }
  std::string decoded;
  const absl::string_view data = text.substr(0, data_length);
  const bool ok =
      url_safe ? absl::WebSafeBase64Unescape(data, &decoded) : absl::Base64Unescape(data, &decoded);
  if (!ok) return absl::InvalidArgumentError("base64 does not decode");
  return decoded;
}

absl::StatusOr<DsseEnvelope> ParseDsseEnvelope(absl::string_view json) {
  nlohmann::json document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return absl::InvalidArgumentError("DSSE envelope: not valid JSON");
  }
  if (!document.is_object()) {
    return absl::InvalidArgumentError("DSSE envelope: top level must be a JSON object");
  }
  DsseEnvelope envelope;
  OFFBOARD_ASSIGN_OR_RETURN(std::string payload_b64, RequireString(document, "payload", ""));
  absl::StatusOr<std::string> payload = DecodeDsseBase64(payload_b64);
  if (!payload.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DSSE envelope: field 'payload': ", payload.status().message()));
  }
  envelope.payload = *std::move(payload);
  OFFBOARD_ASSIGN_OR_RETURN(envelope.payload_type, RequireString(document, "payloadType", ""));

  const auto signatures = document.find("signatures");
  if (signatures == document.end() || !signatures->is_array()) {
    return absl::InvalidArgumentError("DSSE envelope: field 'signatures' must be an array");
  }
  for (size_t i = 0; i < signatures->size(); ++i) {
    const nlohmann::json& entry = (*signatures)[i];
    const std::string where = absl::StrCat("signatures[", i, "]: ");
    if (!entry.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("DSSE envelope: ", where, "must be an object"));
    }
    DsseSignature signature;
    OFFBOARD_ASSIGN_OR_RETURN(std::string sig_b64, RequireString(entry, "sig", where));
    absl::StatusOr<std::string> sig = DecodeDsseBase64(sig_b64);
    if (!sig.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("DSSE envelope: ", where, "field 'sig': ", sig.status().message()));
    }
    signature.sig = *std::move(sig);
    if (entry.contains("keyid")) {
      OFFBOARD_ASSIGN_OR_RETURN(signature.keyid, RequireString(entry, "keyid", where));
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
