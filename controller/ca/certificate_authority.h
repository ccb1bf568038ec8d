// The controller's own certificate authority: it issues the controller's TLS
// server certificate and each enrolled agent's client certificate, and its
// certificate (ca.pem) is what agents and the server trust. Nothing else
// signs certificates for Offboard.
//
//   OFFBOARD_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Load(data_dir));
//   OFFBOARD_ASSIGN_OR_RETURN(CertificateAuthority::IssuedCertificate issued,
//                             ca.SignAgentCsr(csr_pem, identity, 365, now));
//
// An agent certificate is bound to its identity by the one URI SAN that
// common/tls/agent_identity.h defines; the CA decides that identity (from the
// enrollment token), never the requester, so the CSR contributes only its
// public key.
//
// Issuing fails with FAILED_PRECONDITION once the CA certificate itself has
// expired.
//
// A CertificateAuthority is immutable once built; copies share the key, and
// all methods are safe to call from several threads at once.
#ifndef OFFBOARD_CONTROLLER_CA_CERTIFICATE_AUTHORITY_H_
#define OFFBOARD_CONTROLLER_CA_CERTIFICATE_AUTHORITY_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/filesystem/path.hpp>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tls/agent_identity.h"

namespace offboard::controller {

// File names inside the directory given to Save and Load.
inline constexpr char kCaCertificateFile[] = "ca.pem";
inline constexpr char kCaPrivateKeyFile[] = "ca-key.pem";
// Longest validity, in days, that Issue*/Sign* accept. Certificates never
// outlive the CA either: notAfter is capped at the CA's own.
inline constexpr int kMaxIssuedValidityDays = 3650;

class CertificateAuthority {
 public:
  struct IssuedCertificate {
    std::string certificate_pem;
    // The new key for a server certificate (PKCS#8 PEM, for a 0600 file);
    // empty for an agent certificate, whose key stays with the agent.
    std::string private_key_pem;
    // The 128-bit serial as 32 lowercase hex digits, for logs and audit events.
    std::string serial_hex;
  };

  // A new CA: ECDSA P-256 key, self-signed X.509 v3 certificate with
  // CN="Offboard controller CA <name>", basicConstraints critical
  // CA:TRUE pathlen:0, keyUsage critical keyCertSign+cRLSign, a subject key
  // identifier, valid from now (backdated a few minutes for clock skew) for 10
  // years. INVALID_ARGUMENT if `name` is empty, not UTF-8, or too long for a
  // common name (41 bytes).
  static absl::StatusOr<CertificateAuthority> Create(absl::string_view name);

  // Writes `dir`/ca-key.pem (mode 0600) and then `dir`/ca.pem (mode 0644),
  // each atomically. `dir` must exist. ALREADY_EXISTS, naming the file, if
  // either exists: a CA key is never overwritten, and a half-written pair is
  // removed again.
  absl::Status Save(const boost::filesystem::path& dir) const;

  // Reads what Save wrote. PERMISSION_DENIED, naming the path, when the key
  // file is accessible to group or others; NOT_FOUND for a missing file;
  // INVALID_ARGUMENT, naming the path, for a file that does not parse, a key
  // that is not P-256, a certificate that is not a CA or does not match the key.
  static absl::StatusOr<CertificateAuthority> Load(const boost::filesystem::path& dir);

  std::string CertificatePem() const;

  // A TLS server certificate with a fresh P-256 key, valid for `days`, with
  // extendedKeyUsage serverAuth and one subjectAltName per distinct entry of
  // `hostnames`: an IP SAN for an IPv4 or IPv6 address (brackets around IPv6
  // allowed), a DNS SAN otherwise. CN is the first host name when it fits.
  // INVALID_ARGUMENT for no host names, an entry that is neither an address
  // nor a DNS name ([A-Za-z0-9_-] labels), or `days` outside
  // [1, kMaxIssuedValidityDays].
  absl::StatusOr<IssuedCertificate> IssueServerCertificate(
      const std::vector<std::string>& hostnames, int days) const;

  // A client certificate for the key in `csr_pem`, valid for `days`, with
  // subject CN=<agent_id>, O=<vendor_id>, the single URI SAN
  // AgentIdentityUri(identity), extendedKeyUsage clientAuth, keyUsage
  // digitalSignature, and a random 128-bit serial. The CSR's subject and
  // requested extensions are ignored. INVALID_ARGUMENT, naming the problem,
  // for a CSR that does not parse, is not self-signed with SHA-256 or better
  // by its own key, or carries any key but ECDSA P-256; for an identity that
  // ValidateAgentIdentity refuses; or for `days` out of range.
  // The checks SignAgentCsr makes of the CSR itself, for callers that must
  // know a CSR is good before they spend something on it (a token).
  absl::Status CheckCsr(absl::string_view csr_pem) const;

  // Valid from a few minutes before `now` (the enrollment's time, Unix
  // seconds), so that the certificate and the enrollment record agree.
  absl::StatusOr<IssuedCertificate> SignAgentCsr(absl::string_view csr_pem,
                                                 const common::AgentIdentity& identity, int days,
                                                 std::time_t now) const;

 private:
  CertificateAuthority(std::shared_ptr<X509> certificate, std::shared_ptr<EVP_PKEY> key);

  std::shared_ptr<X509> certificate_;
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CA_CERTIFICATE_AUTHORITY_H_
