#include "controller/ca/certificate_authority.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "common/io/read_file.h"
#include "common/tls/agent_identity.h"
#include "common/tls/key_and_csr.h"
#include "common/tls/x509.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

using common::AgentIdentity;
using common::UniqueX509;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

using StorePtr = std::unique_ptr<X509_STORE, common::OpenSslFree<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, common::OpenSslFree<X509_STORE_CTX, X509_STORE_CTX_free>>;

const AgentIdentity kIdentity{"acme", "db-01.acme.example", "agent-7f3a"};

UniqueX509 Parse(const std::string& pem) { return *common::ParseCertificatePem(pem); }

// X509_verify_cert of `leaf_pem` against `ca_pem` alone, for `purpose`.
bool Verifies(const std::string& leaf_pem, const std::string& ca_pem, int purpose) {
  UniqueX509 leaf = Parse(leaf_pem);
  UniqueX509 ca = Parse(ca_pem);
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  StoreCtxPtr context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(context.get(), purpose);
  const bool ok = X509_verify_cert(context.get()) == 1;
  ERR_clear_error();
  return ok;
}

std::string NameEntry(X509_NAME* name, int nid) {
  char buffer[256] = {};
  X509_NAME_get_text_by_NID(name, nid, buffer, sizeof(buffer));
  return buffer;
}

bool IsCritical(X509* certificate, int nid) {
  const int index = X509_get_ext_by_NID(certificate, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(certificate, index)) == 1;
}

// The subjectAltNames as "DNS:x", "IP:1.2.3.4", "URI:x".
std::vector<std::string> AltNames(X509* certificate) {
  std::vector<std::string> result;
  common::UniqueGeneralNames names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* address = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(ASN1_STRING_length(address) == 4 ? AF_INET : AF_INET6,
                ASN1_STRING_get0_data(address), text, sizeof(text));
      result.push_back(std::string("IP:") + text);
      continue;
    }
    const ASN1_STRING* text = name->d.ia5;
    result.push_back(std::string(name->type == GEN_DNS ? "DNS:" : "URI:") +
                     std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                                 static_cast<size_t>(ASN1_STRING_length(text))));
  }
  return result;
}

// A CSR built by hand, for requests GenerateKeyAndCsr would never make.
std::string CsrFor(EVP_PKEY* key, const char* common_name, const EVP_MD* digest,
                   const char* requested_san = nullptr) {
  common::UniqueX509Req csr(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(csr.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_REQ_set_pubkey(csr.get(), key);
  if (requested_san != nullptr) {
    STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(
        extensions, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, requested_san));
    sk_X509_EXTENSION_push(extensions, X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints,
                                                           "critical,CA:TRUE"));
    X509_REQ_add_extensions(csr.get(), extensions);
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  }
  EXPECT_GT(X509_REQ_sign(csr.get(), key, digest), 0);
  return common::CsrToPem(csr.get());
}

// `csr_pem` with its DER changed by `edit`, written back as PEM unparsed.
template <typename Edit>
std::string TamperDer(const std::string& csr_pem, Edit edit) {
  common::UniqueX509Req csr = *common::ParseCsrPem(csr_pem);
  unsigned char* der = nullptr;
  const int length = i2d_X509_REQ(csr.get(), &der);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  edit(bytes);
  common::UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "",
                reinterpret_cast<const unsigned char*>(bytes.data()),
                static_cast<long>(bytes.size()));
  return common::MemoryBioContents(bio.get());
}

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  CertificateAuthority ca_ = *CertificateAuthority::Create("test bank");
};

TEST_F(CertificateAuthorityTest, CreateMakesARootThatMaySignOnlyLeaves) {
  const UniqueX509 certificate = Parse(ca_.CertificatePem());
  EXPECT_EQ(NameEntry(X509_get_subject_name(certificate.get()), NID_commonName),
            "Offboard controller CA test bank");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(certificate.get()),
                          X509_get_issuer_name(certificate.get())),
            0);
  EXPECT_EQ(X509_get_version(certificate.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(certificate.get()), 1);
  EXPECT_TRUE(IsCritical(certificate.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_pathlen(certificate.get()), 0);
  EXPECT_TRUE(IsCritical(certificate.get(), NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(certificate.get()), uint32_t{KU_KEY_CERT_SIGN | KU_CRL_SIGN});
  EXPECT_NE(X509_get0_subject_key_id(certificate.get()), nullptr);
  EXPECT_EQ(X509_verify(certificate.get(), X509_get0_pubkey(certificate.get())), 1);
  EXPECT_TRUE(common::RequireP256Key(X509_get0_pubkey(certificate.get()), "CA key").ok());

  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(certificate.get()),
                           X509_get0_notAfter(certificate.get())),
            1);
  EXPECT_GE(days, 3652);
  EXPECT_LE(days, 3654);
}

TEST_F(CertificateAuthorityTest, CreateRefusesUnusableNames) {
  EXPECT_EQ(CertificateAuthority::Create("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(CertificateAuthority::Create(std::string(42, 'n')).status().message(),
              HasSubstr("at most 41 bytes"));
  EXPECT_TRUE(CertificateAuthority::Create(std::string(41, 'n')).ok());
}

TEST_F(CertificateAuthorityTest, AgentCertificateCarriesTheIdentityAndVerifiesAsClient) {
  const common::KeyAndCsr request = *common::GenerateKeyAndCsr("whatever the agent says");
  const absl::StatusOr<CertificateAuthority::IssuedCertificate> issued =
      ca_.SignAgentCsr(request.csr_pem, kIdentity, 30, std::time(nullptr));
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(issued->private_key_pem.empty());

  const absl::StatusOr<AgentIdentity> identity =
      common::AgentIdentityFromCertificate(issued->certificate_pem);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, kIdentity);

  const UniqueX509 certificate = Parse(issued->certificate_pem);
  EXPECT_EQ(NameEntry(X509_get_subject_name(certificate.get()), NID_commonName), "agent-7f3a");
  EXPECT_EQ(NameEntry(X509_get_subject_name(certificate.get()), NID_organizationName), "acme");
  EXPECT_EQ(issued->serial_hex.size(), 32u);
  EXPECT_EQ(X509_get_extended_key_usage(certificate.get()), uint32_t{XKU_SSL_CLIENT});
  EXPECT_EQ(X509_get_key_usage(certificate.get()), uint32_t{KU_DIGITAL_SIGNATURE});
  EXPECT_EQ(X509_check_ca(certificate.get()), 0);
  EXPECT_THAT(AltNames(certificate.get()),
              ElementsAre("URI:offboard://agent/acme/db-01.acme.example/agent-7f3a"));
  const common::UniqueEvpPkey agent_key = *common::ParsePrivateKeyPem(request.private_key_pem);
  EXPECT_EQ(X509_check_private_key(certificate.get(), agent_key.get()), 1);

  EXPECT_TRUE(Verifies(issued->certificate_pem, ca_.CertificatePem(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_FALSE(Verifies(issued->certificate_pem, ca_.CertificatePem(), X509_PURPOSE_SSL_SERVER));
  const CertificateAuthority other = *CertificateAuthority::Create("test bank");
  EXPECT_FALSE(Verifies(issued->certificate_pem, other.CertificatePem(), X509_PURPOSE_SSL_CLIENT));
}

// The certificate is valid from the enrollment's time (less five minutes
// for a peer whose clock lags), so that it and the enrollment record agree.
TEST_F(CertificateAuthorityTest, AnAgentCertificateIsValidFromTheTimeGiven) {
  const std::time_t enrolled_at = std::time(nullptr) - 30 * 86400;
  const auto issued =
      ca_.SignAgentCsr(common::GenerateKeyAndCsr("a")->csr_pem, kIdentity, 30, enrolled_at);
  ASSERT_TRUE(issued.ok()) << issued.status();
  const absl::StatusOr<common::CertificateValidity> validity =
      common::ValidityOf(Parse(issued->certificate_pem).get());
  ASSERT_TRUE(validity.ok()) << validity.status();
  EXPECT_EQ(validity->not_before, enrolled_at - 300);
  EXPECT_EQ(validity->not_after, enrolled_at + 30 * 86400);
}

TEST_F(CertificateAuthorityTest, SerialsAreRandomAndCanonical) {
  const common::KeyAndCsr request = *common::GenerateKeyAndCsr("a");
  const auto first = *ca_.SignAgentCsr(request.csr_pem, kIdentity, 1, std::time(nullptr));
  const auto second = *ca_.SignAgentCsr(request.csr_pem, kIdentity, 1, std::time(nullptr));
  EXPECT_NE(first.serial_hex, second.serial_hex);
  // BN_bn2hex drops at most one leading zero byte; compare as numbers.
  common::UniqueBignum expected;
  BIGNUM* parsed = nullptr;
  BN_hex2bn(&parsed, first.serial_hex.c_str());
  expected.reset(parsed);
  common::UniqueBignum actual(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(Parse(first.certificate_pem).get()), nullptr));
  EXPECT_EQ(BN_cmp(expected.get(), actual.get()), 0);
}

TEST_F(CertificateAuthorityTest, IssuesFromSeveralThreadsAtOnce) {
  const std::string csr = common::GenerateKeyAndCsr("a")->csr_pem;
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> issued(4);
  for (auto& out : issued) {
    threads.emplace_back([&, result = &out] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<CertificateAuthority::IssuedCertificate> certificate =
            i % 2 == 0 ? ca_.SignAgentCsr(csr, kIdentity, 1, std::time(nullptr))
                       : ca_.IssueServerCertificate({"localhost"}, 1);
        result->push_back(certificate.ok() ? certificate->certificate_pem : "");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& out : issued) {
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_TRUE(Verifies(out[i], ca_.CertificatePem(),
                           i % 2 == 0 ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER));
    }
  }
}

TEST_F(CertificateAuthorityTest, IgnoresTheCsrSubjectAndRequestedExtensions) {
  const common::UniqueEvpPkey key = *common::GenerateP256Key();
  const std::string csr = CsrFor(key.get(), "admin", EVP_sha256(),
                                 "URI:offboard://agent/bank/controller/root,DNS:controller");
  const auto issued = ca_.SignAgentCsr(csr, kIdentity, 30, std::time(nullptr));
  ASSERT_TRUE(issued.ok()) << issued.status();
  const UniqueX509 certificate = Parse(issued->certificate_pem);
  EXPECT_EQ(NameEntry(X509_get_subject_name(certificate.get()), NID_commonName), "agent-7f3a");
  EXPECT_EQ(X509_check_ca(certificate.get()), 0);
  EXPECT_THAT(AltNames(certificate.get()),
              ElementsAre("URI:offboard://agent/acme/db-01.acme.example/agent-7f3a"));
}

TEST_F(CertificateAuthorityTest, RefusesBadRequests) {
  const std::string good = common::GenerateKeyAndCsr("a")->csr_pem;
  const auto refusal = [&](const std::string& csr) {
    const absl::Status status = ca_.SignAgentCsr(csr, kIdentity, 30, std::time(nullptr)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    return std::string(status.message());
  };
  EXPECT_THAT(refusal("garbage"), HasSubstr("not a PEM certificate request"));
  EXPECT_THAT(refusal(""), HasSubstr("not a PEM certificate request"));
  // The last byte lies in the signature's s.
  EXPECT_THAT(refusal(TamperDer(good, [](std::string& der) { der.back() ^= 0x01; })),
              HasSubstr("does not verify"));
  // A signed subject changed afterwards.
  const std::string named = common::GenerateKeyAndCsr("agent-a")->csr_pem;
  EXPECT_THAT(refusal(TamperDer(named,
                                [](std::string& der) {
                                  const size_t at = der.find("agent-a");
                                  ASSERT_NE(at, std::string::npos);
                                  der[at + 6] = 'b';
                                })),
              HasSubstr("does not verify"));

  const common::UniqueEvpPkey rsa(EVP_RSA_gen(2048));
  EXPECT_THAT(refusal(CsrFor(rsa.get(), "a", EVP_sha256())), HasSubstr("is a RSA key"));
  const common::UniqueEvpPkey p384(EVP_EC_gen("P-384"));
  EXPECT_THAT(refusal(CsrFor(p384.get(), "a", EVP_sha384())), HasSubstr("only P-256"));
  const common::UniqueEvpPkey p256 = *common::GenerateP256Key();
  EXPECT_THAT(refusal(CsrFor(p256.get(), "a", EVP_sha1())), HasSubstr("SHA-256 or better"));
}

TEST_F(CertificateAuthorityTest, RefusesBadIdentityOrValidity) {
  const std::string csr = common::GenerateKeyAndCsr("a")->csr_pem;
  EXPECT_THAT(ca_.SignAgentCsr(csr, {"acme", "", "a"}, 30, std::time(nullptr)).status().message(),
              HasSubstr("host_id is empty"));
  EXPECT_EQ(ca_.SignAgentCsr(csr, kIdentity, 0, std::time(nullptr)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ca_.SignAgentCsr(csr, kIdentity, kMaxIssuedValidityDays + 1, std::time(nullptr))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CertificateAuthorityTest, ServerCertificateHasEveryHostAndVerifiesAsServer) {
  const auto issued = ca_.IssueServerCertificate(
      {"controller.bank.example", "localhost", "127.0.0.1", "::1", "[fe80::1]", "localhost"}, 397);
  ASSERT_TRUE(issued.ok()) << issued.status();
  const UniqueX509 certificate = Parse(issued->certificate_pem);
  EXPECT_THAT(AltNames(certificate.get()),
              UnorderedElementsAre("DNS:controller.bank.example", "DNS:localhost", "IP:127.0.0.1",
                                   "IP:::1", "IP:fe80::1"));
  EXPECT_EQ(NameEntry(X509_get_subject_name(certificate.get()), NID_commonName),
            "controller.bank.example");
  EXPECT_EQ(X509_check_host(certificate.get(), "controller.bank.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(certificate.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(certificate.get(), "::1", 0), 1);
  EXPECT_NE(X509_check_host(certificate.get(), "other.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_get_extended_key_usage(certificate.get()), uint32_t{XKU_SSL_SERVER});

  const common::UniqueEvpPkey key = *common::ParsePrivateKeyPem(issued->private_key_pem);
  EXPECT_TRUE(common::RequireP256Key(key.get(), "server key").ok());
  EXPECT_EQ(X509_check_private_key(certificate.get(), key.get()), 1);
  EXPECT_TRUE(Verifies(issued->certificate_pem, ca_.CertificatePem(), X509_PURPOSE_SSL_SERVER));
  EXPECT_FALSE(Verifies(issued->certificate_pem, ca_.CertificatePem(), X509_PURPOSE_SSL_CLIENT));
  const CertificateAuthority other = *CertificateAuthority::Create("other");
  EXPECT_FALSE(Verifies(issued->certificate_pem, other.CertificatePem(), X509_PURPOSE_SSL_SERVER));

  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(certificate.get()),
                 X509_get0_notAfter(certificate.get()));
  EXPECT_EQ(days, 397);
}

TEST_F(CertificateAuthorityTest, ServerCertificateRefusesBadHostNames) {
  EXPECT_EQ(ca_.IssueServerCertificate({}, 30).status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"", "bad host", "a,DNS:evil.example", "a..b", "[127.0.0.1]", "x/y"}) {
    EXPECT_EQ(ca_.IssueServerCertificate({"ok.example", bad}, 30).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(ca_.IssueServerCertificate({"ok.example"}, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CertificateAuthorityTest, SaveAndLoadRoundTrip) {
  const testing::TempDir dir;
  ASSERT_TRUE(ca_.Save(dir.path()).ok());
  struct stat info;
  ASSERT_EQ(::stat((dir.path() / "ca-key.pem").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() / "ca.pem").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  EXPECT_EQ(*common::ReadFileToString(dir.path() / "ca.pem"), ca_.CertificatePem());

  const absl::StatusOr<CertificateAuthority> loaded = CertificateAuthority::Load(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->CertificatePem(), ca_.CertificatePem());
  // The loaded CA signs with the same key: its certificates verify under the original.
  const auto issued = loaded->SignAgentCsr(common::GenerateKeyAndCsr("a")->csr_pem, kIdentity, 30,
                                           std::time(nullptr));
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(Verifies(issued->certificate_pem, ca_.CertificatePem(), X509_PURPOSE_SSL_CLIENT));
}

TEST_F(CertificateAuthorityTest, SaveNeverOverwritesAKey) {
  const testing::TempDir dir;
  ASSERT_TRUE(ca_.Save(dir.path()).ok());
  const std::string key_before = *common::ReadFileToString(dir.path() / "ca-key.pem");
  const CertificateAuthority other = *CertificateAuthority::Create("other");
  EXPECT_EQ(other.Save(dir.path()).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*common::ReadFileToString(dir.path() / "ca-key.pem"), key_before);
  EXPECT_EQ(*common::ReadFileToString(dir.path() / "ca.pem"), ca_.CertificatePem());

  // A key alone (no ca.pem) is not overwritten either, and no ca.pem appears.
  const testing::TempDir lone_key;
  lone_key.WriteFile("ca-key.pem", "precious");
  const absl::Status status = other.Save(lone_key.path());
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr("ca-key.pem"));
  EXPECT_EQ(*common::ReadFileToString(lone_key.path() / "ca-key.pem"), "precious");
  EXPECT_FALSE(boost::filesystem::exists(lone_key.path() / "ca.pem"));
}

TEST_F(CertificateAuthorityTest, LoadRefusesAKeyOthersMayRead) {
  const testing::TempDir dir;
  ASSERT_TRUE(ca_.Save(dir.path()).ok());
  const boost::filesystem::path key = dir.path() / "ca-key.pem";
  ASSERT_EQ(::chmod(key.c_str(), 0640), 0);
  const absl::Status status = CertificateAuthority::Load(dir.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr(key.string()));
  EXPECT_THAT(status.message(), HasSubstr("640"));
}

TEST_F(CertificateAuthorityTest, LoadRefusesMissingOrMismatchedFiles) {
  const testing::TempDir empty;
  EXPECT_EQ(CertificateAuthority::Load(empty.path()).status().code(), absl::StatusCode::kNotFound);

  const testing::TempDir dir;
  ASSERT_TRUE(ca_.Save(dir.path()).ok());
  const CertificateAuthority other = *CertificateAuthority::Create("other");
  dir.WriteFile("ca.pem", other.CertificatePem());
  const absl::Status status = CertificateAuthority::Load(dir.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is not the key of"));

  dir.WriteFile("ca.pem", "garbage");
  EXPECT_THAT(CertificateAuthority::Load(dir.path()).status().message(),
              HasSubstr((dir.path() / "ca.pem").string()));
}

}  // namespace
}  // namespace offboard::controller
