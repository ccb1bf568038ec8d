// The steps every certificate the controller's CA signs goes through: a v3
// certificate with a random serial, a UTF-8 subject, a validity window,
// extensions, subjectAltNames built as ASN.1 (never through OpenSSL's config
// syntax, where a host name with a comma could smuggle in another SAN), and
// an ECDSA-SHA256 signature. Internal to controller/ca/.
//
//   OFFBOARD_ASSIGN_OR_RETURN(CertificateBuilder builder, CertificateBuilder::Start(key));
//   OFFBOARD_RETURN_IF_ERROR(builder.AddSubjectEntry(NID_commonName, "x"));
//   ...
//   OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509 cert, builder.Sign(ca_cert, ca_key));
//
// Not thread-safe; one builder per certificate.
#ifndef OFFBOARD_CONTROLLER_CA_CERTIFICATE_BUILDER_H_
#define OFFBOARD_CONTROLLER_CA_CERTIFICATE_BUILDER_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tls/x509.h"

namespace offboard::controller {

struct SubjectAltName {
  int type;           // GEN_DNS, GEN_IPADD or GEN_URI
  std::string value;  // the name; for GEN_IPADD the 4 or 16 address bytes
};

class CertificateBuilder {
 public:
  // A v3 certificate for `public_key` (which it references, not copies) with
  // a random, positive 128-bit serial. INTERNAL if OpenSSL fails.
  static absl::StatusOr<CertificateBuilder> Start(EVP_PKEY* public_key);

  // Appends an attribute to the subject. INVALID_ARGUMENT when `value` is
  // empty or does not fit the attribute (CN and O: 64 characters).
  absl::Status AddSubjectEntry(int nid, absl::string_view value);

  absl::Status SetValidity(std::time_t not_before, std::time_t not_after);

  // An extension in OpenSSL's config syntax ("critical,CA:FALSE"). Only for
  // constant values written in our code, never for input. `issuer` is the
  // issuing certificate (for authorityKeyIdentifier), or null when the
  // certificate signs itself.
  absl::Status AddExtension(int nid, const char* value, X509* issuer);

  absl::Status AddSubjectAltNames(const std::vector<SubjectAltName>& names);

  // Sets the issuer name and signs with ECDSA-SHA256. `issuer` null means
  // self-signed. The builder is spent afterwards.
  absl::StatusOr<common::UniqueX509> Sign(X509* issuer, EVP_PKEY* issuer_key);

  const std::string& serial_hex() const { return serial_hex_; }

 private:
  CertificateBuilder(common::UniqueX509 certificate, std::string serial_hex)
      : certificate_(std::move(certificate)), serial_hex_(std::move(serial_hex)) {}

  common::UniqueX509 certificate_;
  std::string serial_hex_;
};

// `days` after `start`, but never after `issuer`'s notAfter. FAILED_PRECONDITION
// when `issuer` has expired by `start`.
absl::StatusOr<std::time_t> NotAfterWithin(X509* issuer, std::time_t start, int days);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CA_CERTIFICATE_BUILDER_H_
