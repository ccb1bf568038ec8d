#include "agent/service/enrollment.h"

#include <unistd.h>

#include <boost/filesystem/operations.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/identity/agent_key.h"
#include "agent/identity/decommission_record.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"
#include "common/tls/key_and_csr.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

std::string LocalHostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

absl::StatusOr<std::string> ReadPem(const fs::path& path, absl::string_view marker) {
  OFFBOARD_ASSIGN_OR_RETURN(std::string pem, common::ReadFileToString(path, 1 << 20));
  if (!absl::StrContains(pem, absl::StrCat("-----BEGIN ", marker))) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": not a PEM ", absl::AsciiStrToLower(marker)));
  }
  return pem;
}

}  // namespace

absl::StatusOr<Enrollment> EnrollAgent(const EnrollOptions& options) {
  const EnrollmentPaths paths(fs::absolute(options.data_dir));
  OFFBOARD_RETURN_IF_ERROR(CheckNotDecommissioned(paths.data_dir));
  OFFBOARD_RETURN_IF_ERROR(CheckControllerAddress(options.controller));
  if (options.token.empty()) return absl::InvalidArgumentError("--token is empty");
  boost::system::error_code error;
  if (fs::exists(paths.Record(), error)) {
    return absl::AlreadyExistsError(
        absl::StrCat(paths.data_dir.string(), " is already enrolled (", paths.Record().string(),
                     "); use a fresh --data-dir for another enrollment"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::string ca_pem, ReadPem(options.ca_file, "CERTIFICATE"));
  OFFBOARD_ASSIGN_OR_RETURN(AgentKey attestation_key, LoadOrCreateAttestationKey(paths.data_dir));
  const std::string hostname = options.hostname.empty() ? LocalHostname() : options.hostname;
  OFFBOARD_ASSIGN_OR_RETURN(common::KeyAndCsr tls, common::GenerateKeyAndCsr(hostname));

  offboard::v1::EnrollRequest request;
  request.set_token(options.token);
  request.set_csr_pem(tls.csr_pem);
  request.set_attestation_public_key_pem(attestation_key.key.PublicKey().ToPem());
  request.set_hostname(hostname);
  const ControllerEndpoint endpoint{.address = options.controller, .ca_pem = ca_pem};
  OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::EnrollResponse response,
                            EnrollWithController(endpoint, request));
  if (response.agent_id().empty() || response.client_certificate_pem().empty()) {
    return absl::InternalError(absl::StrCat("Enroll at ", options.controller,
                                            ": response without agent id or certificate"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(
      common::Ed25519PublicKey controller_key,
      common::Ed25519PublicKey::FromPem(response.controller_public_key_pem()));

  // The CA we were given is what the certificate chains to; a CA in the
  // response replaces it only if the controller rotated it, which it may not
  // do silently: keep ours.
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(paths.TlsKey(), tls.private_key_pem, 0600));
  OFFBOARD_RETURN_IF_ERROR(
      common::WriteFileAtomically(paths.TlsCertificate(), response.client_certificate_pem()));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(paths.Ca(), ca_pem));
  OFFBOARD_RETURN_IF_ERROR(
      common::WriteFileAtomically(paths.ControllerKey(), controller_key.ToPem()));
  const nlohmann::ordered_json record = {{"agent_id", response.agent_id()},
                                         {"vendor_id", response.vendor_id()},
                                         {"host_id", response.host_id()},
                                         {"controller", options.controller}};
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(paths.Record(), record.dump(2) + "\n", 0644,
                                                       common::ExistingFile::kKeep));
  common::AuditEvent("agent_enrolled", {{"agent_id", response.agent_id()},
                                        {"vendor_id", response.vendor_id()},
                                        {"host_id", response.host_id()},
                                        {"controller", options.controller},
                                        {"attestation_key_id", attestation_key.key.KeyId()}});
  return Enrollment{.agent_id = response.agent_id(),
                    .vendor_id = response.vendor_id(),
                    .host_id = response.host_id(),
                    .endpoint = endpoint,
                    .credentials = {.private_key_pem = tls.private_key_pem,
                                    .certificate_pem = response.client_certificate_pem()},
                    .controller_key = controller_key};
}

absl::StatusOr<Enrollment> LoadEnrollment(const boost::filesystem::path& data_dir) {
  const EnrollmentPaths paths(fs::absolute(data_dir));
  OFFBOARD_RETURN_IF_ERROR(CheckNotDecommissioned(paths.data_dir));
  boost::system::error_code error;
  if (!fs::exists(paths.Record(), error)) {
    return absl::FailedPreconditionError(
        absl::StrCat(paths.data_dir.string(), " is not enrolled (no ", paths.Record().string(),
                     "); run offboard-agent enroll first"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::string text, common::ReadFileToString(paths.Record(), 1 << 20));
  const nlohmann::json record = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::string agent_id, vendor_id, host_id, controller;
  for (auto [key, target] : {std::pair<const char*, std::string*>{"agent_id", &agent_id},
                             {"vendor_id", &vendor_id},
                             {"host_id", &host_id},
                             {"controller", &controller}}) {
    if (!record.is_object() || !record.contains(key) || !record[key].is_string() ||
        record[key].get<std::string>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(paths.Record().string(), ": field '", key, "' missing or not a string"));
    }
    *target = record[key].get<std::string>();
  }
  OFFBOARD_RETURN_IF_ERROR(CheckControllerAddress(controller));
  OFFBOARD_ASSIGN_OR_RETURN(std::string ca_pem, ReadPem(paths.Ca(), "CERTIFICATE"));
  OFFBOARD_ASSIGN_OR_RETURN(std::string key_pem, ReadPem(paths.TlsKey(), "PRIVATE KEY"));
  OFFBOARD_ASSIGN_OR_RETURN(std::string certificate_pem,
                            ReadPem(paths.TlsCertificate(), "CERTIFICATE"));
  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey controller_key,
                            common::Ed25519PublicKey::Load(paths.ControllerKey()));
  return Enrollment{.agent_id = agent_id,
                    .vendor_id = vendor_id,
                    .host_id = host_id,
                    .endpoint = {.address = controller, .ca_pem = ca_pem},
                    .credentials = {.private_key_pem = key_pem, .certificate_pem = certificate_pem},
                    .controller_key = controller_key};
}

}  // namespace offboard::agent
