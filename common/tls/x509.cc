#include "common/tls/x509.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <ctime>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

// A read-only memory BIO over `pem`, or INVALID_ARGUMENT when it is too large
// to be what `what` names.
absl::StatusOr<UniqueBio> PemBio(absl::string_view pem, absl::string_view what) {
  if (pem.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is ", pem.size(),
                                                   " bytes, more than the ", kMaxPemBytes,
                                                   " a PEM object may have"));
  }
  UniqueBio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError(absl::StrCat("BIO_new_mem_buf: ", OpenSslError()));
  return bio;
}

}  // namespace


absl::StatusOr<UniqueX509> ParseCertificatePem(absl::string_view pem) {
  absl::StatusOr<UniqueBio> bio = PemBio(pem, "certificate");
  if (!bio.ok()) return bio.status();
  UniqueX509 certificate(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (!certificate) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM certificate: ", OpenSslError()));
  }
  return certificate;
}

absl::StatusOr<UniqueX509Req> ParseCsrPem(absl::string_view pem) {
  absl::StatusOr<UniqueBio> bio = PemBio(pem, "certificate request");
  if (!bio.ok()) return bio.status();
  UniqueX509Req csr(PEM_read_bio_X509_REQ(bio->get(), nullptr, nullptr, nullptr));
  if (!csr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM certificate request (PKCS#10): ", OpenSslError()));
  }
  return csr;
}

absl::StatusOr<UniqueEvpPkey> ParsePrivateKeyPem(absl::string_view pem) {
  absl::StatusOr<UniqueBio> bio = PemBio(pem, "private key");
  if (!bio.ok()) return bio.status();
  UniqueEvpPkey key(PEM_read_bio_PrivateKey(bio->get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an unencrypted PEM private key: ", OpenSslError()));
  }
  return key;
}

std::string CertificateToPem(X509* certificate) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), certificate);
  return MemoryBioContents(bio.get());
}

std::string CsrToPem(X509_REQ* csr) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), csr);
  return MemoryBioContents(bio.get());
}

std::string PrivateKeyToPem(EVP_PKEY* key) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return MemoryBioContents(bio.get());
}

absl::StatusOr<UniqueEvpPkey> GenerateP256Key() {
  UniqueEvpPkey key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError(absl::StrCat("P-256 key generation: ", OpenSslError()));
  return key;
}

absl::Status RequireP256Key(EVP_PKEY* key, absl::string_view what) {
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no usable public key"));
  }
  if (!EVP_PKEY_is_a(key, "EC")) {
    const char* type = EVP_PKEY_get0_type_name(key);
    return absl::InvalidArgumentError(absl::StrCat(what, " is a ", type ? type : "unknown",
                                                   " key; only ECDSA P-256 is accepted"));
  }
  // Explicit curve parameters are how forged "P-256" keys sneak past
  // validators (CVE-2020-0601); a genuine key names its curve.
  char encoding[32] = {};
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding, sizeof(encoding),
                                     nullptr) != 1 ||
      absl::string_view(encoding) != OSSL_PKEY_EC_ENCODING_GROUP) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(what,
                     " is an EC key with explicit curve parameters; only the named curve "
                     "P-256 is accepted"));
  }
  char group[64] = {};
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), nullptr) != 1 ||
      OBJ_txt2nid(group) != NID_X9_62_prime256v1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is an EC key on curve ", group[0] ? group : "unknown", "; only P-256 is accepted"));
  }
  UniqueEvpPkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has an invalid P-256 public point: ", OpenSslError()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CertificateSha256(absl::string_view certificate_pem) {
  absl::StatusOr<UniqueX509> certificate = ParseCertificatePem(certificate_pem);
  if (!certificate.ok()) return certificate.status();
  const int length = i2d_X509(certificate->get(), nullptr);
  if (length <= 0) return absl::InternalError(absl::StrCat("i2d_X509: ", OpenSslError()));
  std::vector<uint8_t> der(static_cast<size_t>(length));
  unsigned char* out = der.data();
  i2d_X509(certificate->get(), &out);
  return DigestHex(Sha256Of(der));
}

absl::StatusOr<CertificateValidity> ValidityOf(const X509* certificate) {
  const auto seconds = [](const ASN1_TIME* time,
                          absl::string_view which) -> absl::StatusOr<int64_t> {
    std::tm tm{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("the certificate's ", which, " does not parse"));
    }
    return static_cast<int64_t>(timegm(&tm));
  };
  OFFBOARD_ASSIGN_OR_RETURN(const int64_t not_before,
                            seconds(X509_get0_notBefore(certificate), "notBefore"));
  OFFBOARD_ASSIGN_OR_RETURN(const int64_t not_after,
                            seconds(X509_get0_notAfter(certificate), "notAfter"));
  return CertificateValidity{.not_before = not_before, .not_after = not_after};
}

}  // namespace offboard::common
