#include "controller/ca/certificate_authority.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/encoding/utf8.h"
#include "common/io/read_file.h"
#include "common/io/unique_fd.h"
#include "common/io/write_file.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"
#include "common/tls/x509.h"
#include "controller/ca/certificate_builder.h"

namespace offboard::controller {
namespace {

namespace fs = boost::filesystem;

constexpr absl::string_view kCaCommonNamePrefix = "Offboard controller CA ";
constexpr size_t kMaxCommonNameBytes = 64;
constexpr int kCaValidityYears = 10;
// notBefore lies this far in the past, so that a peer whose clock is a little
// behind does not refuse a certificate issued a moment ago.
constexpr std::time_t kBackdateSeconds = 5 * 60;
constexpr size_t kMaxDnsNameBytes = 253;
constexpr size_t kMaxDnsLabelBytes = 63;

absl::Status CheckDays(int days) {
  if (days < 1 || days > kMaxIssuedValidityDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity must be 1 to ", kMaxIssuedValidityDays, " days, got ", days));
  }
  return absl::OkStatus();
}

absl::Status CheckDnsName(absl::string_view name) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("host name \"", absl::CHexEscape(name), "\" ", why));
  };
  if (name.size() > kMaxDnsNameBytes) return invalid("is longer than 253 bytes");
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > kMaxDnsLabelBytes) {
      return invalid("has an empty or over-long label");
    }
    for (const char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return invalid("is neither an IP address nor a DNS name");
      }
    }
  }
  return absl::OkStatus();
}

// The SAN for one --hostname: an address as IP, anything else as DNS.
absl::StatusOr<SubjectAltName> HostSubjectAltName(absl::string_view host) {
  if (host.empty()) return absl::InvalidArgumentError("host name is empty");
  if (host.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("host name contains a NUL byte");
  }
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  const std::string text(bracketed ? host.substr(1, host.size() - 2) : host);
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return SubjectAltName{GEN_IPADD, std::string(reinterpret_cast<const char*>(&v6), sizeof(v6))};
  }
  in_addr v4{};
  if (!bracketed && inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return SubjectAltName{GEN_IPADD, std::string(reinterpret_cast<const char*>(&v4), sizeof(v4))};
  }
  if (bracketed) {
    return absl::InvalidArgumentError(
        absl::StrCat("host name \"", absl::CHexEscape(host), "\" is not a bracketed IPv6 address"));
  }
  OFFBOARD_RETURN_IF_ERROR(CheckDnsName(host));
  return SubjectAltName{GEN_DNS, std::string(host)};
}

// Every certificate the CA issues is an end entity with these.
absl::Status AddLeafExtensions(CertificateBuilder* builder, X509* issuer,
                               const char* extended_key_usage) {
  OFFBOARD_RETURN_IF_ERROR(
      builder->AddExtension(NID_basic_constraints, "critical,CA:FALSE", issuer));
  OFFBOARD_RETURN_IF_ERROR(
      builder->AddExtension(NID_key_usage, "critical,digitalSignature", issuer));
  OFFBOARD_RETURN_IF_ERROR(builder->AddExtension(NID_ext_key_usage, extended_key_usage, issuer));
  OFFBOARD_RETURN_IF_ERROR(builder->AddExtension(NID_subject_key_identifier, "hash", issuer));
  return builder->AddExtension(NID_authority_key_identifier, "keyid:always", issuer);
}

absl::Status CheckCsrSignature(X509_REQ* csr, EVP_PKEY* key) {
  const int algorithm = X509_REQ_get_signature_nid(csr);
  const char* name = OBJ_nid2ln(algorithm);
  if (algorithm != NID_ecdsa_with_SHA256 && algorithm != NID_ecdsa_with_SHA384 &&
      algorithm != NID_ecdsa_with_SHA512) {
    return absl::InvalidArgumentError(absl::StrCat("CSR is signed with ",
                                                   name != nullptr ? name : "an unknown algorithm",
                                                   "; ECDSA with SHA-256 or better is required"));
  }
  if (X509_REQ_verify(csr, key) != 1) {
    common::OpenSslError();  // clear the queue
    return absl::InvalidArgumentError(
        "CSR's signature does not verify with its own key (corrupted or tampered request)");
  }
  return absl::OkStatus();
}

// Opens the CA key, refusing it unless only its owner may read it.
absl::StatusOr<std::string> ReadPrivateKeyFile(const fs::path& path) {
  const common::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return common::ErrnoToStatus(errno, absl::StrCat("open ", path.string()));
  struct stat info;
  if (::fstat(fd.get(), &info) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("stat ", path.string()));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not a regular file"));
  }
  if ((info.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path.string(), ": CA private key is accessible to group or others (mode ",
                     absl::StrFormat("%03o", info.st_mode & 0777), "); chmod 600 it"));
  }
  return common::ReadFdToString(fd.get(), path, common::kMaxPemBytes);
}

absl::Status PrefixPath(const fs::path& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(path.string(), ": ", status.message()));
}

}  // namespace

CertificateAuthority::CertificateAuthority(std::shared_ptr<X509> certificate,
                                           std::shared_ptr<EVP_PKEY> key)
    : certificate_(std::move(certificate)), key_(std::move(key)) {
  // Fill OpenSSL's lazily computed extension cache (which issuing reads for
  // the authority key identifier) while no other thread can see it.
  X509_check_purpose(certificate_.get(), -1, 0);
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(absl::string_view name) {
  if (name.empty() || !common::IsValidUtf8(name)) {
    return absl::InvalidArgumentError("CA name must be non-empty UTF-8");
  }
  if (kCaCommonNamePrefix.size() + name.size() > kMaxCommonNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("CA name \"", name, "\" is too long: at most ",
                                                   kMaxCommonNameBytes - kCaCommonNamePrefix.size(),
                                                   " bytes"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueEvpPkey key, common::GenerateP256Key());
  OFFBOARD_ASSIGN_OR_RETURN(CertificateBuilder builder, CertificateBuilder::Start(key.get()));
  OFFBOARD_RETURN_IF_ERROR(
      builder.AddSubjectEntry(NID_commonName, absl::StrCat(kCaCommonNamePrefix, name)));

  const std::time_t now = std::time(nullptr);
  std::tm end{};
  gmtime_r(&now, &end);
  end.tm_year += kCaValidityYears;
  OFFBOARD_RETURN_IF_ERROR(builder.SetValidity(now - kBackdateSeconds, timegm(&end)));

  OFFBOARD_RETURN_IF_ERROR(
      builder.AddExtension(NID_basic_constraints, "critical,CA:TRUE,pathlen:0", nullptr));
  OFFBOARD_RETURN_IF_ERROR(
      builder.AddExtension(NID_key_usage, "critical,keyCertSign,cRLSign", nullptr));
  OFFBOARD_RETURN_IF_ERROR(builder.AddExtension(NID_subject_key_identifier, "hash", nullptr));
  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509 certificate, builder.Sign(nullptr, key.get()));
  return CertificateAuthority(std::move(certificate), std::move(key));
}

absl::Status CertificateAuthority::Save(const fs::path& dir) const {
  const fs::path key_path = dir / kCaPrivateKeyFile;
  const fs::path certificate_path = dir / kCaCertificateFile;
  // A stale ca.pem must not end up beside a new key.
  struct stat info;
  if (::lstat(certificate_path.c_str(), &info) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(certificate_path.string(), " already exists; not replacing a CA"));
  }
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(
      key_path, common::PrivateKeyToPem(key_.get()), 0600, common::ExistingFile::kKeep));
  absl::Status written = common::WriteFileAtomically(certificate_path, CertificatePem(), 0644,
                                                     common::ExistingFile::kKeep);
  if (!written.ok()) ::unlink(key_path.c_str());  // we created it just now
  return written;
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Load(const fs::path& dir) {
  const fs::path key_path = dir / kCaPrivateKeyFile;
  const fs::path certificate_path = dir / kCaCertificateFile;

  OFFBOARD_ASSIGN_OR_RETURN(const std::string key_pem, ReadPrivateKeyFile(key_path));
  absl::StatusOr<common::UniqueEvpPkey> key = common::ParsePrivateKeyPem(key_pem);
  if (!key.ok()) return PrefixPath(key_path, key.status());
  OFFBOARD_RETURN_IF_ERROR(common::RequireP256Key(key->get(), key_path.string()));

  OFFBOARD_ASSIGN_OR_RETURN(const std::string certificate_pem,
                            common::ReadFileToString(certificate_path, common::kMaxPemBytes));
  absl::StatusOr<common::UniqueX509> certificate = common::ParseCertificatePem(certificate_pem);
  if (!certificate.ok()) return PrefixPath(certificate_path, certificate.status());
  if (X509_check_ca(certificate->get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(certificate_path.string(), ": not a CA certificate (basicConstraints)"));
  }
  if (X509_check_private_key(certificate->get(), key->get()) != 1) {
    common::OpenSslError();  // clear the queue
    return absl::InvalidArgumentError(
        absl::StrCat(key_path.string(), " is not the key of ", certificate_path.string()));
  }
  return CertificateAuthority(*std::move(certificate), *std::move(key));
}

std::string CertificateAuthority::CertificatePem() const {
  return common::CertificateToPem(certificate_.get());
}

absl::StatusOr<CertificateAuthority::IssuedCertificate>
CertificateAuthority::IssueServerCertificate(const std::vector<std::string>& hostnames,
                                             int days) const {
  if (hostnames.empty()) {
    return absl::InvalidArgumentError("a server certificate needs at least one host name");
  }
  OFFBOARD_RETURN_IF_ERROR(CheckDays(days));
  std::vector<SubjectAltName> names;
  std::set<std::pair<int, std::string>> seen;
  for (const std::string& host : hostnames) {
    OFFBOARD_ASSIGN_OR_RETURN(SubjectAltName name, HostSubjectAltName(host));
    if (seen.emplace(name.type, name.value).second) names.push_back(std::move(name));
  }

  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueEvpPkey key, common::GenerateP256Key());
  OFFBOARD_ASSIGN_OR_RETURN(CertificateBuilder builder, CertificateBuilder::Start(key.get()));
  // The CN is for people; clients match the SANs.
  const std::string& first = hostnames.front();
  OFFBOARD_RETURN_IF_ERROR(builder.AddSubjectEntry(
      NID_commonName, first.size() <= kMaxCommonNameBytes ? first : "Offboard controller"));
  const std::time_t now = std::time(nullptr);
  OFFBOARD_ASSIGN_OR_RETURN(const std::time_t not_after,
                            NotAfterWithin(certificate_.get(), now, days));
  OFFBOARD_RETURN_IF_ERROR(builder.SetValidity(now - kBackdateSeconds, not_after));
  OFFBOARD_RETURN_IF_ERROR(AddLeafExtensions(&builder, certificate_.get(), "serverAuth"));
  OFFBOARD_RETURN_IF_ERROR(builder.AddSubjectAltNames(names));
  const std::string serial_hex = builder.serial_hex();
  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509 certificate,
                            builder.Sign(certificate_.get(), key_.get()));
  return IssuedCertificate{common::CertificateToPem(certificate.get()),
                           common::PrivateKeyToPem(key.get()), serial_hex};
}

absl::Status CertificateAuthority::CheckCsr(absl::string_view csr_pem) const {
  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509Req csr, common::ParseCsrPem(csr_pem));
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(csr.get());
  OFFBOARD_RETURN_IF_ERROR(common::RequireP256Key(public_key, "the CSR's key"));
  return CheckCsrSignature(csr.get(), public_key);
}

absl::StatusOr<CertificateAuthority::IssuedCertificate> CertificateAuthority::SignAgentCsr(
    absl::string_view csr_pem, const common::AgentIdentity& identity, int days,
    std::time_t now) const {
  OFFBOARD_RETURN_IF_ERROR(CheckCsr(csr_pem));
  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509Req csr, common::ParseCsrPem(csr_pem));
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(csr.get());
  OFFBOARD_RETURN_IF_ERROR(common::ValidateAgentIdentity(identity));
  OFFBOARD_RETURN_IF_ERROR(CheckDays(days));

  // Only the public key comes from the request; everything else is ours.
  OFFBOARD_ASSIGN_OR_RETURN(CertificateBuilder builder, CertificateBuilder::Start(public_key));
  OFFBOARD_RETURN_IF_ERROR(builder.AddSubjectEntry(NID_organizationName, identity.vendor_id));
  OFFBOARD_RETURN_IF_ERROR(builder.AddSubjectEntry(NID_commonName, identity.agent_id));
  OFFBOARD_ASSIGN_OR_RETURN(const std::time_t not_after,
                            NotAfterWithin(certificate_.get(), now, days));
  OFFBOARD_RETURN_IF_ERROR(builder.SetValidity(now - kBackdateSeconds, not_after));
  OFFBOARD_RETURN_IF_ERROR(AddLeafExtensions(&builder, certificate_.get(), "clientAuth"));
  OFFBOARD_RETURN_IF_ERROR(
      builder.AddSubjectAltNames({{GEN_URI, common::AgentIdentityUri(identity)}}));
  const std::string serial_hex = builder.serial_hex();
  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509 certificate,
                            builder.Sign(certificate_.get(), key_.get()));
  return IssuedCertificate{common::CertificateToPem(certificate.get()), "", serial_hex};
}

}  // namespace offboard::controller
