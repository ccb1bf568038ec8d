#include "controller/service/caller_identity.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/encoding/rfc3339.h"
#include "common/log/audit.h"
#include "common/status/parse_memo.h"
#include "common/status/status_macros.h"
#include "common/tls/x509.h"
#include "controller/intake/attestation_intake.h"

namespace offboard::controller {

namespace {

struct CertifiedCaller {
  common::AgentIdentity identity;
  common::CertificateValidity validity;
};

absl::StatusOr<CertifiedCaller> ParseCaller(absl::string_view certificate_pem) {
  OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509 certificate,
                            common::ParseCertificatePem(certificate_pem));
  OFFBOARD_ASSIGN_OR_RETURN(common::AgentIdentity identity,
                            common::AgentIdentityFromCertificate(*certificate));
  OFFBOARD_ASSIGN_OR_RETURN(common::CertificateValidity validity,
                            common::ValidityOf(certificate.get()));
  return CertifiedCaller{std::move(identity), validity};
}

}  // namespace

absl::StatusOr<common::AgentIdentity> CallerIdentity(const grpc::ServerContext& context,
                                                     int64_t now) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("no verified client certificate");
  }
  const std::vector<grpc::string_ref> certificates = auth->FindPropertyValues("x509_pem_cert");
  if (certificates.empty()) return absl::UnauthenticatedError("no client certificate");
  // The identity and validity depend on the certificate's bytes alone, so
  // one parse per certificate serves every call an agent makes.
  static common::ParseMemo<CertifiedCaller> callers(4096);
  OFFBOARD_ASSIGN_OR_RETURN(
      const CertifiedCaller caller,
      callers.Get(absl::string_view(certificates.front().data(), certificates.front().size()),
                  ParseCaller));
  // TLS checked the validity when the connection was made; a connection may
  // outlive it, and what is accepted must fall within it (offboard-verify
  // checks each attestation's time against its agent's certificate).
  if (now < caller.validity.not_before || now > caller.validity.not_after) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate of agent ", caller.identity.agent_id,
                     " is not valid now (", common::UnixToRfc3339(caller.validity.not_before),
                     " to ", common::UnixToRfc3339(caller.validity.not_after), ")"));
  }
  return caller.identity;
}

absl::StatusOr<common::AgentIdentity> AuthorizedCaller(const grpc::ServerContext& context,
                                                       ControllerStore& store,
                                                       absl::string_view rpc, int64_t now) {
  absl::StatusOr<common::AgentIdentity> caller = CallerIdentity(context, now);
  absl::Status refused;
  if (!caller.ok()) {
    refused = caller.status();
  } else {
    refused = CheckEnrolledCaller(store, *caller).status();
  }
  if (!refused.ok()) {
    common::AuditEvent("rpc_refused", {{"rpc", std::string(rpc)},
                                       {"peer", context.peer()},
                                       {"agent_id", caller.ok() ? caller->agent_id : "-"},
                                       {"vendor_id", caller.ok() ? caller->vendor_id : "-"},
                                       {"reason", std::string(refused.message())}});
    return refused;
  }
  return caller;
}

}  // namespace offboard::controller
