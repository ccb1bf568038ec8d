// X.509 and ECDSA key plumbing that the agent (its key and CSR) and the
// controller (its CA) share: owning handles for OpenSSL objects, PEM in and
// out, P-256 key generation and checks, and certificate fingerprints.
//
//   OFFBOARD_ASSIGN_OR_RETURN(UniqueX509 cert, ParseCertificatePem(pem));
//   OFFBOARD_ASSIGN_OR_RETURN(std::string fingerprint, CertificateSha256(pem));
//
// Every OpenSSL object Offboard owns is held by one of the Unique* handles
// below, never freed by hand on each error path. Functions here are
// thread-safe: they share no state (OpenSSL's error queue is per thread).
#ifndef OFFBOARD_COMMON_TLS_X509_H_
#define OFFBOARD_COMMON_TLS_X509_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl_error.h"

namespace offboard::common {

// A PEM certificate, key or CSR is a few kilobytes; a chain a few more.
// Anything larger is refused before OpenSSL parses it.
inline constexpr size_t kMaxPemBytes = 64 * 1024;

template <typename T, void (*Free)(T*)>
struct OpenSslFree {
  void operator()(T* object) const { Free(object); }
};
using UniqueBio = std::unique_ptr<BIO, OpenSslFree<BIO, BIO_free_all>>;
using UniqueBignum = std::unique_ptr<BIGNUM, OpenSslFree<BIGNUM, BN_free>>;
using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY, EVP_PKEY_free>>;
using UniqueEvpPkeyCtx =
    std::unique_ptr<EVP_PKEY_CTX, OpenSslFree<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using UniqueX509 = std::unique_ptr<X509, OpenSslFree<X509, X509_free>>;
using UniqueX509Req = std::unique_ptr<X509_REQ, OpenSslFree<X509_REQ, X509_REQ_free>>;
using UniqueX509Extension =
    std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION, X509_EXTENSION_free>>;
using UniqueGeneralName =
    std::unique_ptr<GENERAL_NAME, OpenSslFree<GENERAL_NAME, GENERAL_NAME_free>>;
using UniqueGeneralNames =
    std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES, GENERAL_NAMES_free>>;
using UniqueAsn1String = std::unique_ptr<ASN1_STRING, OpenSslFree<ASN1_STRING, ASN1_STRING_free>>;



// The first certificate in `pem` (the leaf, for a chain). INVALID_ARGUMENT
// for anything that is not a PEM certificate or is larger than kMaxPemBytes.
absl::StatusOr<UniqueX509> ParseCertificatePem(absl::string_view pem);
// A PKCS#10 request. INVALID_ARGUMENT as above.
absl::StatusOr<UniqueX509Req> ParseCsrPem(absl::string_view pem);
// An unencrypted private key (PKCS#8 or traditional). INVALID_ARGUMENT as above.
absl::StatusOr<UniqueEvpPkey> ParsePrivateKeyPem(absl::string_view pem);

std::string CertificateToPem(X509* certificate);
std::string CsrToPem(X509_REQ* csr);
// PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: the file holding it is 0600.
std::string PrivateKeyToPem(EVP_PKEY* key);

// A fresh ECDSA key on NIST P-256 from the OS's randomness through OpenSSL.
// INTERNAL only if OpenSSL fails.
absl::StatusOr<UniqueEvpPkey> GenerateP256Key();

// OK when `key` is an EC key on P-256, encoded as a named curve (explicit
// curve parameters are refused), whose public point checks out. Otherwise
// INVALID_ARGUMENT saying "<what> is a <type> key ..." so a caller can tell
// a person what to regenerate.
absl::Status RequireP256Key(EVP_PKEY* key, absl::string_view what);

// Lowercase hex SHA-256 of the certificate's DER encoding (what
// `openssl x509 -fingerprint -sha256` prints, without colons), for logs and
// evidence. INVALID_ARGUMENT if `certificate_pem` is not a PEM certificate.
absl::StatusOr<std::string> CertificateSha256(absl::string_view certificate_pem);

// A certificate's notBefore and notAfter, in Unix seconds.
struct CertificateValidity {
  int64_t not_before = 0;
  int64_t not_after = 0;
};
// INVALID_ARGUMENT if either time does not parse.
absl::StatusOr<CertificateValidity> ValidityOf(const X509* certificate);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_TLS_X509_H_
