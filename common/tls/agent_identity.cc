#include "common/tls/agent_identity.h"

#include <openssl/x509v3.h>

#include <array>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/encoding/utf8.h"
#include "common/status/status_macros.h"
#include "common/tls/x509.h"

namespace offboard::common {
namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

// Only uppercase: "%2f" and "%2F" would otherwise be two spellings of one URI.
int UpperHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendPercentEncoded(absl::string_view part, std::string* out) {
  for (const char c : part) {
    if (IsUnreserved(c)) {
      out->push_back(c);
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out->push_back('%');
    out->push_back(kUpperHex[byte >> 4]);
    out->push_back(kUpperHex[byte & 0x0f]);
  }
}

// Decodes one path segment that starts at `offset` in the URI, for messages.
absl::StatusOr<std::string> PercentDecode(absl::string_view segment, size_t offset) {
  std::string decoded;
  decoded.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    const char c = segment[i];
    if (IsUnreserved(c)) {
      decoded.push_back(c);
      continue;
    }
    if (c != '%') {
      return absl::InvalidArgumentError(
          absl::StrCat("character '", absl::CHexEscape(segment.substr(i, 1)), "' at offset ",
                       offset + i, " must be percent-encoded"));
    }
    const int high = i + 2 < segment.size() ? UpperHexValue(segment[i + 1]) : -1;
    const int low = i + 2 < segment.size() ? UpperHexValue(segment[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'%' at offset ", offset + i, " is not followed by two uppercase hex digits"));
    }
    const char byte = static_cast<char>(high * 16 + low);
    if (IsUnreserved(byte)) {
      return absl::InvalidArgumentError(absl::StrCat("'", segment.substr(i, 3), "' at offset ",
                                                     offset + i, " encodes '", std::string(1, byte),
                                                     "', which must be written as is"));
    }
    decoded.push_back(byte);
    i += 2;
  }
  return decoded;
}

absl::Status ValidatePart(absl::string_view field, absl::string_view value, size_t max_bytes) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value.size(), " bytes, more than the ", max_bytes, " allowed"));
  }
  if (value == "." || value == "..") {
    return absl::InvalidArgumentError(absl::StrCat(field, " may not be \"", value, "\""));
  }
  if (const size_t bad = FindInvalidUtf8(value); bad != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not valid UTF-8 at byte ", bad));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const auto byte = static_cast<unsigned char>(value[i]);
    if (byte < 0x20 || byte == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " has a control character at byte ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateVendorAndHost(absl::string_view vendor_id, absl::string_view host_id) {
  OFFBOARD_RETURN_IF_ERROR(ValidatePart("vendor_id", vendor_id, kMaxVendorIdBytes));
  return ValidatePart("host_id", host_id, kMaxHostIdBytes);
}

absl::Status ValidateAgentIdentity(const AgentIdentity& id) {
  OFFBOARD_RETURN_IF_ERROR(ValidateVendorAndHost(id.vendor_id, id.host_id));
  return ValidatePart("agent_id", id.agent_id, kMaxAgentIdBytes);
}

std::string AgentIdentityUri(const AgentIdentity& id) {
  std::string uri(kAgentIdentityUriPrefix);
  AppendPercentEncoded(id.vendor_id, &uri);
  uri.push_back('/');
  AppendPercentEncoded(id.host_id, &uri);
  uri.push_back('/');
  AppendPercentEncoded(id.agent_id, &uri);
  return uri;
}

absl::StatusOr<AgentIdentity> ParseAgentIdentityUri(absl::string_view uri) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent identity URI \"", absl::CHexEscape(uri), "\": ", why));
  };
  if (!absl::StartsWith(uri, kAgentIdentityUriPrefix)) {
    return invalid(absl::StrCat("does not start with ", kAgentIdentityUriPrefix));
  }
  const absl::string_view path = uri.substr(kAgentIdentityUriPrefix.size());
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '/');
  if (segments.size() != 3) {
    return invalid(
        absl::StrCat("has ", segments.size(), " path segments, expected vendor/host/agent"));
  }
  std::array<std::string, 3> parts;
  size_t offset = kAgentIdentityUriPrefix.size();
  for (size_t i = 0; i < segments.size(); ++i) {
    absl::StatusOr<std::string> part = PercentDecode(segments[i], offset);
    if (!part.ok()) return invalid(part.status().message());
    parts[i] = *std::move(part);
    offset += segments[i].size() + 1;
  }
  AgentIdentity id{std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
  if (absl::Status valid = ValidateAgentIdentity(id); !valid.ok()) {
    return invalid(valid.message());
  }
  return id;
}

absl::StatusOr<AgentIdentity> AgentIdentityFromCertificate(absl::string_view certificate_pem) {
  OFFBOARD_ASSIGN_OR_RETURN(UniqueX509 certificate, ParseCertificatePem(certificate_pem));
  return AgentIdentityFromCertificate(*certificate);
}

absl::StatusOr<AgentIdentity> AgentIdentityFromCertificate(const X509& certificate) {
  int critical = 0;
  UniqueGeneralNames names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(&certificate, NID_subject_alt_name, &critical, nullptr)));
  if (!names) {
    if (critical == -1) {
      return absl::PermissionDeniedError(
          "certificate has no subjectAltName, so it names no agent identity");
    }
    OpenSslError();  // clear the queue
    return absl::InvalidArgumentError(critical == -2
                                          ? "certificate has more than one subjectAltName"
                                          : "certificate's subjectAltName cannot be decoded");
  }
  std::vector<std::string> claims;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* text = name->d.uniformResourceIdentifier;
    std::string uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                    static_cast<size_t>(ASN1_STRING_length(text)));
    if (absl::StartsWithIgnoreCase(uri, "offboard:")) claims.push_back(std::move(uri));
  }
  if (claims.size() != 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate carries ", claims.size(),
                     " offboard: URIs in its subjectAltName; exactly one agent identity "
                     "is required"));
  }
  absl::StatusOr<AgentIdentity> id = ParseAgentIdentityUri(claims.front());
  if (!id.ok()) return absl::PermissionDeniedError(id.status().message());
  return id;
}

}  // namespace offboard::common
