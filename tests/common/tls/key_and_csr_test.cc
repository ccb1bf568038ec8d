#include "common/tls/key_and_csr.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <string>

#include "common/tls/x509.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string CommonName(X509_NAME* name) {
  char buffer[128] = {};
  X509_NAME_get_text_by_NID(name, NID_commonName, buffer, sizeof(buffer));
  return buffer;
}

TEST(GenerateKeyAndCsrTest, CsrIsSelfSignedByAP256KeyWithTheCommonName) {
  const absl::StatusOr<KeyAndCsr> generated = GenerateKeyAndCsr("db-01.acme.example");
  ASSERT_TRUE(generated.ok()) << generated.status();
  EXPECT_THAT(generated->private_key_pem, StartsWith("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(generated->csr_pem, StartsWith("-----BEGIN CERTIFICATE REQUEST-----"));

  const UniqueX509Req csr = *std::move(ParseCsrPem(generated->csr_pem));
  const UniqueEvpPkey key = *std::move(ParsePrivateKeyPem(generated->private_key_pem));
  EXPECT_TRUE(RequireP256Key(key.get(), "key").ok());
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(csr.get()), key.get()), 1);
  EXPECT_EQ(X509_REQ_verify(csr.get(), key.get()), 1);
  EXPECT_EQ(X509_REQ_get_signature_nid(csr.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(CommonName(X509_REQ_get_subject_name(csr.get())), "db-01.acme.example");
}

TEST(GenerateKeyAndCsrTest, EveryCallMakesANewKey) {
  EXPECT_NE(GenerateKeyAndCsr("a")->private_key_pem, GenerateKeyAndCsr("a")->private_key_pem);
}

TEST(GenerateKeyAndCsrTest, RefusesCommonNamesACertificateCannotHold) {
  EXPECT_EQ(GenerateKeyAndCsr("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(GenerateKeyAndCsr(std::string(65, 'x')).status().message(),
              HasSubstr("1 to 64 bytes"));
  EXPECT_EQ(GenerateKeyAndCsr("\xff").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequireP256KeyTest, NamesWhatIsWrong) {
  UniqueEvpPkey rsa(EVP_RSA_gen(2048));
  EXPECT_THAT(RequireP256Key(rsa.get(), "the key").message(), HasSubstr("the key is a RSA key"));
  UniqueEvpPkey p384(EVP_EC_gen("P-384"));
  EXPECT_THAT(RequireP256Key(p384.get(), "the key").message(), HasSubstr("secp384r1"));
  UniqueEvpPkey ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_EQ(RequireP256Key(ed25519.get(), "k").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RequireP256Key(nullptr, "k").code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequireP256KeyTest, RefusesExplicitCurveParametersEvenForP256) {
  UniqueEvpPkeyCtx context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  ASSERT_EQ(EVP_PKEY_keygen_init(context.get()), 1);
  char group[] = "P-256";
  char encoding[] = "explicit";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, encoding, 0),
      OSSL_PARAM_construct_end()};
  ASSERT_EQ(EVP_PKEY_CTX_set_params(context.get(), params), 1);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_generate(context.get(), &raw), 1);
  UniqueEvpPkey key(raw);
  EXPECT_THAT(RequireP256Key(key.get(), "k").message(), HasSubstr("explicit curve parameters"));
}

TEST(CertificateSha256Test, IsTheDigestOfTheDer) {
  // Any certificate will do; make one from a CSR's key, self-signed.
  const UniqueEvpPkey key = *GenerateP256Key();
  UniqueX509 certificate(X509_new());
  X509_set_version(certificate.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 60);
  X509_set_pubkey(certificate.get(), key.get());
  ASSERT_GT(X509_sign(certificate.get(), key.get(), EVP_sha256()), 0);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ASSERT_EQ(X509_digest(certificate.get(), EVP_sha256(), digest, &length), 1);
  std::string expected;
  for (unsigned int i = 0; i < length; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    expected.push_back(kHex[digest[i] >> 4]);
    expected.push_back(kHex[digest[i] & 0xf]);
  }
  EXPECT_EQ(*CertificateSha256(CertificateToPem(certificate.get())), expected);
  EXPECT_EQ(CertificateSha256("garbage").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace offboard::common
