#include "common/tls/agent_identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "common/tls/x509.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

// A self-signed certificate whose subjectAltName is `san` in OpenSSL's config
// syntax ("URI:...,DNS:..."), or none when `san` is empty.
std::string CertificateWithSan(const char* san) {
  UniqueEvpPkey key = *GenerateP256Key();
  UniqueX509 certificate(X509_new());
  X509_set_version(certificate.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(certificate.get()));
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 3600);
  X509_set_pubkey(certificate.get(), key.get());
  if (san[0] != '\0') {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate.get(), certificate.get(), nullptr, nullptr, 0);
    UniqueX509Extension extension(
        X509V3_EXT_nconf_nid(nullptr, &context, NID_subject_alt_name, san));
    EXPECT_NE(extension, nullptr) << san;
    X509_add_ext(certificate.get(), extension.get(), -1);
  }
  EXPECT_GT(X509_sign(certificate.get(), key.get(), EVP_sha256()), 0);
  return CertificateToPem(certificate.get());
}

TEST(AgentIdentityUriTest, PlainIdentityIsSpelledAsIs) {
  const AgentIdentity id{"acme", "db-01.acme.example", "agent_7"};
  EXPECT_EQ(AgentIdentityUri(id), "offboard://agent/acme/db-01.acme.example/agent_7");
  EXPECT_EQ(*ParseAgentIdentityUri(AgentIdentityUri(id)), id);
}

TEST(AgentIdentityUriTest, OddCharactersArePercentEncodedAndRoundTrip) {
  const AgentIdentity id{"Ācme Corp/EU", "db 01:5432?x#y", "a%b+c~d"};
  const std::string uri = AgentIdentityUri(id);
  EXPECT_EQ(uri, "offboard://agent/%C4%80cme%20Corp%2FEU/db%2001%3A5432%3Fx%23y/a%25b%2Bc%7Ed");
  EXPECT_EQ(*ParseAgentIdentityUri(uri), id);
}

TEST(AgentIdentityUriTest, EveryByteThatValidationAllowsRoundTrips) {
  std::string all;
  for (int byte = 0x20; byte < 0x7f; ++byte) all.push_back(static_cast<char>(byte));
  const AgentIdentity id{all.substr(0, 60), all, all.substr(31)};
  ASSERT_TRUE(ValidateAgentIdentity(id).ok());
  EXPECT_EQ(*ParseAgentIdentityUri(AgentIdentityUri(id)), id);
}

TEST(AgentIdentityUriTest, RejectsAnythingAgentIdentityUriWouldNotProduce) {
  const std::vector<std::string> bad = {
      "",
      "offboard://agent/",
      "offboard://agent/a/b",
      "offboard://agent/a/b/c/d",
      "offboard://agent/a/b/c/",
      "offboard://agent/a//c",
      "offboard://agent//b/c",
      "OFFBOARD://agent/a/b/c",
      "offboard://Agent/a/b/c",
      "https://agent/a/b/c",
      " offboard://agent/a/b/c",
      "offboard://agent/a/b/c\n",
      "offboard://agent/a/b/c?x=1",
      "offboard://agent/a/b/c#frag",
      "offboard://agent/a b/c/d",
      "offboard://agent/a/b/%2",
      "offboard://agent/a/b/%zz",
      "offboard://agent/a%2fb/c/d",   // lowercase hex: a second spelling
      "offboard://agent/%41cme/b/c",  // "A" needs no encoding: a second spelling
      "offboard://agent/./b/c",
      "offboard://agent/a/../c",
      "offboard://agent/%00/b/c",  // control character
      "offboard://agent/%FF/b/c",  // not UTF-8
      std::string("offboard://agent/a/b/c\0d", 25),
  };
  for (const std::string& uri : bad) {
    const absl::StatusOr<AgentIdentity> id = ParseAgentIdentityUri(uri);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << uri;
  }
  EXPECT_THAT(ParseAgentIdentityUri("offboard://agent/a/b/%zz").status().message(),
              HasSubstr("offset 21"));
}

TEST(AgentIdentityUriTest, ValidationNamesTheField) {
  EXPECT_THAT(ValidateAgentIdentity({"", "h", "a"}).message(), HasSubstr("vendor_id is empty"));
  EXPECT_THAT(ValidateAgentIdentity({"v", "h", std::string(65, 'a')}).message(),
              HasSubstr("agent_id is 65 bytes"));
  EXPECT_TRUE(ValidateAgentIdentity({"v", std::string(255, 'h'), "a"}).ok());
  EXPECT_THAT(ValidateAgentIdentity({"v", "h\t1", "a"}).message(),
              HasSubstr("host_id has a control character"));
  EXPECT_THAT(ValidateAgentIdentity({"v", "h", "\xc3"}).message(),
              HasSubstr("agent_id is not valid UTF-8"));
  EXPECT_THAT(ValidateAgentIdentity({"..", "h", "a"}).message(), HasSubstr("vendor_id may not"));
}

TEST(AgentIdentityFromCertificateTest, ReadsTheOneIdentityUri) {
  const std::string pem = CertificateWithSan(
      "DNS:agent.example,URI:https://example.com/x,URI:offboard://agent/acme/host%201/a1");
  const absl::StatusOr<AgentIdentity> id = AgentIdentityFromCertificate(pem);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, (AgentIdentity{"acme", "host 1", "a1"}));
}

TEST(AgentIdentityFromCertificateTest, RefusesTwoIdentities) {
  const std::string pem =
      CertificateWithSan("URI:offboard://agent/acme/h/a1,URI:offboard://agent/other/h/a2");
  const absl::Status status = AgentIdentityFromCertificate(pem).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("carries 2"));
}

TEST(AgentIdentityFromCertificateTest, AnOddlyCasedSecondIdentityStillCounts) {
  const std::string pem =
      CertificateWithSan("URI:offboard://agent/acme/h/a1,URI:OFFBOARD://agent/other/h/a2");
  EXPECT_EQ(AgentIdentityFromCertificate(pem).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(AgentIdentityFromCertificateTest, RefusesNoIdentity) {
  EXPECT_EQ(AgentIdentityFromCertificate(CertificateWithSan("DNS:agent.example")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AgentIdentityFromCertificate(CertificateWithSan("")).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AgentIdentityFromCertificateTest, RefusesAMalformedIdentity) {
  const std::string pem = CertificateWithSan("URI:offboard://agent/acme/h%2f1/a1");
  const absl::Status status = AgentIdentityFromCertificate(pem).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("uppercase hex"));
}

TEST(AgentIdentityFromCertificateTest, RefusesWhatIsNotACertificate) {
  EXPECT_EQ(AgentIdentityFromCertificate("not a certificate").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AgentIdentityFromCertificate(std::string(kMaxPemBytes + 1, 'A')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace offboard::common
