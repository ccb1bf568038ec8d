// Who an agent is, and how its client certificate says so.
//
// The controller's CA binds each agent certificate to one AgentIdentity by a
// single URI subjectAltName, "offboard://agent/<vendor>/<host>/<agent>".
// Every RPC is authorized from that URI alone (never from the subject, which
// is for people reading the certificate), so it has exactly one spelling:
// each part is percent-encoded with uppercase hex, only [A-Za-z0-9._-] left as
// is, and a parser that accepts anything else would let two strings name one
// agent.
//
//   AgentIdentity id{"acme", "db-01.acme.example", "a1b2c3"};
//   AgentIdentityUri(id)  // "offboard://agent/acme/db-01.acme.example/a1b2c3"
//   OFFBOARD_ASSIGN_OR_RETURN(AgentIdentity peer, AgentIdentityFromCertificate(pem));
//
// Thread-safe: plain functions without state.
#ifndef OFFBOARD_COMMON_TLS_AGENT_IDENTITY_H_
#define OFFBOARD_COMMON_TLS_AGENT_IDENTITY_H_

#include <openssl/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

inline constexpr absl::string_view kAgentIdentityUriPrefix = "offboard://agent/";
// vendor_id and agent_id become the certificate's O and CN, which X.520 caps
// at 64 characters; a host id may be a long DNS name.
inline constexpr size_t kMaxVendorIdBytes = 64;
inline constexpr size_t kMaxAgentIdBytes = 64;
inline constexpr size_t kMaxHostIdBytes = 255;

struct AgentIdentity {
  std::string vendor_id;
  std::string host_id;
  std::string agent_id;

  bool operator==(const AgentIdentity&) const = default;
};

// OK when every part is non-empty, valid UTF-8 without control characters,
// not "." or ".." (which URI normalizers collapse), and within the limits
// above; INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateAgentIdentity(const AgentIdentity& id);
// The same for the two parts an enrollment token fixes, before any agent id
// exists.
absl::Status ValidateVendorAndHost(absl::string_view vendor_id, absl::string_view host_id);

// The URI SAN for `id`. Call ValidateAgentIdentity first: for an invalid
// identity the result is a URI that ParseAgentIdentityUri refuses.
std::string AgentIdentityUri(const AgentIdentity& id);

// The inverse of AgentIdentityUri. INVALID_ARGUMENT, naming the position, for
// anything AgentIdentityUri would not have produced: another scheme or
// prefix, other than three parts, a query or fragment, lowercase or
// unnecessary percent-encoding, or an identity ValidateAgentIdentity refuses.
absl::StatusOr<AgentIdentity> ParseAgentIdentityUri(absl::string_view uri);

// The identity in the first certificate of `certificate_pem`. Does not verify
// the certificate: TLS has done that before anyone asks whose it is.
// INVALID_ARGUMENT when the PEM is not a certificate or its subjectAltName
// cannot be decoded; PERMISSION_DENIED when the certificate does not name
// exactly one well-formed identity (any URI with scheme "offboard", in any
// case, counts as an attempt to name one).
absl::StatusOr<AgentIdentity> AgentIdentityFromCertificate(absl::string_view certificate_pem);
// The same, for a certificate already parsed.
absl::StatusOr<AgentIdentity> AgentIdentityFromCertificate(const X509& certificate);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_TLS_AGENT_IDENTITY_H_
