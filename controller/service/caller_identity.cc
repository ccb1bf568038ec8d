#include "controller/service/caller_identity.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/log/audit.h"
#include "common/status/parse_memo.h"
#include "common/status/status_macros.h"
#include "controller/intake/attestation_intake.h"

namespace offboard::controller {

absl::StatusOr<common::AgentIdentity> CallerIdentity(const grpc::ServerContext& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("no verified client certificate");
  }
  const std::vector<grpc::string_ref> certificates = auth->FindPropertyValues("x509_pem_cert");
  if (certificates.empty()) return absl::UnauthenticatedError("no client certificate");
  // The identity depends on the certificate's bytes alone, and TLS verified
  // the chain and validity of this connection's certificate already, so one
  // parse per certificate serves every call an agent makes.
  static common::ParseMemo<common::AgentIdentity> identities(4096);
  return identities.Get(absl::string_view(certificates.front().data(), certificates.front().size()),
                        common::AgentIdentityFromCertificate);
}

absl::StatusOr<common::AgentIdentity> AuthorizedCaller(const grpc::ServerContext& context,
                                                       ControllerStore& store,
                                                       absl::string_view rpc) {
  absl::StatusOr<common::AgentIdentity> caller = CallerIdentity(context);
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
