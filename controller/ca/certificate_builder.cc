#include "controller/ca/certificate_builder.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"

namespace offboard::controller {
namespace {

using common::OpenSslError;

// 128 random bits: well above the 64 that CA/Browser rules ask for, and
// still within RFC 5280's 20 octets once DER adds a sign byte.
constexpr size_t kSerialBytes = 16;

absl::Status Internal(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslError()));
}

}  // namespace

absl::StatusOr<CertificateBuilder> CertificateBuilder::Start(EVP_PKEY* public_key) {
  common::UniqueX509 certificate(X509_new());
  if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(certificate.get(), public_key) != 1) {
    return Internal("starting a certificate");
  }
  std::array<uint8_t, kSerialBytes> serial{};
  // Zero is not a valid serial; redraw on the 2^-128 chance.
  common::UniqueBignum number;
  do {
    if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) {
      return Internal("RAND_bytes for a serial number");
    }
    number.reset(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
    if (!number) return Internal("BN_bin2bn");
  } while (BN_is_zero(number.get()));
  if (BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(certificate.get())) == nullptr) {
    return Internal("setting the serial number");
  }
  return CertificateBuilder(std::move(certificate), common::HexEncode(serial));
}

absl::Status CertificateBuilder::AddSubjectEntry(int nid, absl::string_view value) {
  const char* field = OBJ_nid2sn(nid);
  if (value.empty())
    return absl::InvalidArgumentError(absl::StrCat("subject ", field, " is empty"));
  if (X509_NAME_add_entry_by_NID(X509_get_subject_name(certificate_.get()), nid, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    // OpenSSL refuses values over the attribute's upper bound or not UTF-8.
    return absl::InvalidArgumentError(absl::StrCat(
        "subject ", field, " \"", absl::CHexEscape(value), "\" is not allowed: ", OpenSslError()));
  }
  return absl::OkStatus();
}

absl::Status CertificateBuilder::SetValidity(std::time_t not_before, std::time_t not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(certificate_.get()), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate_.get()), not_after) == nullptr) {
    return Internal("setting the validity");
  }
  return absl::OkStatus();
}

absl::Status CertificateBuilder::AddExtension(int nid, const char* value, X509* issuer) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer != nullptr ? issuer : certificate_.get(), certificate_.get(),
                 nullptr, nullptr, 0);
  common::UniqueX509Extension extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(certificate_.get(), extension.get(), -1) != 1) {
    return Internal(absl::StrCat("adding extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

absl::Status CertificateBuilder::AddSubjectAltNames(const std::vector<SubjectAltName>& names) {
  common::UniqueGeneralNames list(sk_GENERAL_NAME_new_null());
  if (!list) return Internal("sk_GENERAL_NAME_new_null");
  for (const SubjectAltName& name : names) {
    common::UniqueAsn1String text(name.type == GEN_IPADD ? ASN1_OCTET_STRING_new()
                                                         : ASN1_IA5STRING_new());
    if (!text ||
        ASN1_STRING_set(text.get(), name.value.data(), static_cast<int>(name.value.size())) != 1) {
      return Internal("ASN1_STRING_set");
    }
    common::UniqueGeneralName general_name(GENERAL_NAME_new());
    if (!general_name) return Internal("GENERAL_NAME_new");
    GENERAL_NAME_set0_value(general_name.get(), name.type, text.release());
    if (sk_GENERAL_NAME_push(list.get(), general_name.get()) == 0) {
      return Internal("sk_GENERAL_NAME_push");
    }
    general_name.release();  // the list owns it now
  }
  if (X509_add1_ext_i2d(certificate_.get(), NID_subject_alt_name, list.get(), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return Internal("adding subjectAltName");
  }
  return absl::OkStatus();
}

absl::StatusOr<common::UniqueX509> CertificateBuilder::Sign(X509* issuer, EVP_PKEY* issuer_key) {
  X509_NAME* issuer_name =
      issuer != nullptr ? X509_get_subject_name(issuer) : X509_get_subject_name(certificate_.get());
  if (X509_set_issuer_name(certificate_.get(), issuer_name) != 1 ||
      X509_sign(certificate_.get(), issuer_key, EVP_sha256()) <= 0) {
    return Internal("signing the certificate");
  }
  return std::move(certificate_);
}

absl::StatusOr<std::time_t> NotAfterWithin(X509* issuer, std::time_t start, int days) {
  const absl::StatusOr<common::CertificateValidity> issuer_validity = common::ValidityOf(issuer);
  if (!issuer_validity.ok()) return Internal("reading the CA's notAfter");
  const std::time_t issuer_until = issuer_validity->not_after;
  if (issuer_until <= start) {
    return absl::FailedPreconditionError(
        "the CA certificate has expired; it can issue nothing until it is replaced");
  }
  const std::time_t end = start + static_cast<std::time_t>(days) * 24 * 60 * 60;
  return std::min(end, issuer_until);
}

}  // namespace offboard::controller
