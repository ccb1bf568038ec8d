#include "controller/service/controller_services.h"

#include <google/protobuf/util/time_util.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/random.h"
#include "common/crypto/sha256.h"
#include "common/encoding/hex.h"
#include "common/log/audit.h"
#include "common/rpc/grpc_status.h"
#include "common/status/status_macros.h"
#include "controller/service/caller_identity.h"

namespace offboard::controller {
int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<offboard::v1::EnrollResponse> EnrollAgent(ControllerStore& store,
                                                         const CertificateAuthority& ca,
                                                         const std::string& controller_public_pem,
                                                         const offboard::v1::EnrollRequest& request,
                                                         int64_t now) {
  absl::StatusOr<common::Ed25519PublicKey> key =
      common::Ed25519PublicKey::FromPem(request.attestation_public_key_pem());
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attestation_public_key_pem: ", key.status().message()));
  }
  OFFBOARD_ASSIGN_OR_RETURN(const std::string agent_suffix, common::RandomHex(12));
  Enrollment enrollment;
  enrollment.agent_id = absl::StrCat("agent-", agent_suffix);
  enrollment.hostname = request.hostname();
  enrollment.attestation_public_key_pem = request.attestation_public_key_pem();
  enrollment.attestation_key_id = key->KeyId();
  enrollment.enrolled_at = now;
  const std::string token_hash = common::DigestHex(common::Sha256Of(request.token()));
  // The CSR is checked before the token is looked at. The certificate can
  // only be issued once the token has said which vendor and host it is for,
  // and is issued in the same transaction that spends the token: if it cannot
  // be, the token stays unused and no enrollment without a certificate is
  // left to receive wipe orders it could never answer.
  OFFBOARD_RETURN_IF_ERROR(ca.CheckCsr(request.csr_pem()));
  const auto issue = [&](Enrollment& pending) -> absl::Status {
    const common::AgentIdentity identity{pending.vendor_id, pending.host_id, pending.agent_id};
    OFFBOARD_ASSIGN_OR_RETURN(
        CertificateAuthority::IssuedCertificate certificate,
        ca.SignAgentCsr(request.csr_pem(), identity, kAgentCertificateDays, now));
    pending.client_certificate_pem = std::move(certificate.certificate_pem);
    pending.certificate_serial_hex = std::move(certificate.serial_hex);
    return absl::OkStatus();
  };
  OFFBOARD_ASSIGN_OR_RETURN(
      Enrollment enrolled,
      store.ConsumeTokenAndEnroll(token_hash, now, std::move(enrollment), issue));
  common::AuditEvent("agent_enrolled", {{"agent_id", enrolled.agent_id},
                                        {"vendor_id", enrolled.vendor_id},
                                        {"host_id", enrolled.host_id},
                                        {"attestation_key_id", enrolled.attestation_key_id},
                                        {"certificate_serial", enrolled.certificate_serial_hex}});
  offboard::v1::EnrollResponse response;
  response.set_agent_id(enrolled.agent_id);
  response.set_vendor_id(enrolled.vendor_id);
  response.set_host_id(enrolled.host_id);
  response.set_client_certificate_pem(enrolled.client_certificate_pem);
  response.set_ca_certificate_pem(ca.CertificatePem());
  response.set_controller_public_key_pem(controller_public_pem);
  return response;
}

grpc::Status EnrollmentService::Enroll(grpc::ServerContext* context,
                                       const offboard::v1::EnrollRequest* request,
                                       offboard::v1::EnrollResponse* response) {
  absl::StatusOr<offboard::v1::EnrollResponse> result =
      EnrollAgent(store_, ca_, controller_public_pem_, *request, clock_());
  if (!result.ok()) {
    common::AuditEvent("enrollment_refused", {{"peer", context->peer()},
                                              {"hostname", request->hostname()},
                                              {"reason", std::string(result.status().message())}});
    return common::ToGrpcStatus(result.status());
  }
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status OrderService::PullOrders(grpc::ServerContext* context,
                                      const offboard::v1::PullOrdersRequest* /*request*/,
                                      offboard::v1::PullOrdersResponse* response) {
  absl::StatusOr<common::AgentIdentity> caller =
      AuthorizedCaller(*context, store_, "PullOrders", clock_());
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  absl::StatusOr<std::vector<OrderRow>> orders = store_.OrdersForAgent(caller->agent_id);
  if (!orders.ok()) return common::ToGrpcStatus(orders.status());
  for (const OrderRow& order : *orders) {
    offboard::v1::SignedWipeOrder* signed_order = response->add_orders();
    signed_order->set_order_id(order.order_id);
    signed_order->set_envelope(order.envelope);
  }
  return grpc::Status::OK;
}

grpc::Status OrderService::Heartbeat(grpc::ServerContext* context,
                                     const offboard::v1::HeartbeatRequest* request,
                                     offboard::v1::HeartbeatResponse* /*response*/) {
  absl::StatusOr<common::AgentIdentity> caller =
      AuthorizedCaller(*context, store_, "Heartbeat", clock_());
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  common::AuditEvent("agent_heartbeat",
                     {{"agent_id", caller->agent_id},
                      {"order_id", request->order_id()},
                      {"phase", offboard::v1::AgentPhase_Name(request->phase())},
                      {"items", absl::StrCat(request->items_done(), "/", request->items_total())}});
  return grpc::Status::OK;
}

absl::StatusOr<offboard::v1::DecommissionResponse> DecommissionAgent(
    ControllerStore& store, const common::AgentIdentity& caller,
    const offboard::v1::DecommissionRequest& request, int64_t now) {
  if (request.agent_id().empty()) {
    return absl::InvalidArgumentError("Decommission: field 'agent_id' is empty");
  }
  // The identity that is banned is the certificate's, never the request's:
  // the request can only confirm it.
  if (request.agent_id() != caller.agent_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("Decommission: the request names agent ", request.agent_id(),
                     " but the caller's certificate is agent ", caller.agent_id,
                     "; an agent can only decommission itself"));
  }
  absl::StatusOr<Enrollment> enrollment = store.GetEnrollment(caller.agent_id);
  if (!enrollment.ok()) {
    if (enrollment.status().code() != absl::StatusCode::kNotFound) return enrollment.status();
    return absl::PermissionDeniedError(absl::StrCat("agent ", caller.agent_id, " is not enrolled"));
  }
  if (enrollment->vendor_id != caller.vendor_id || enrollment->host_id != caller.host_id) {
    return absl::PermissionDeniedError(absl::StrCat(
        "agent ", caller.agent_id, ": certificate names another vendor or host than enrolled"));
  }
  const bool already_banned = enrollment->banned;
  if (!already_banned) {
    OFFBOARD_RETURN_IF_ERROR(store.BanAgent(caller.agent_id, now));
    // Read back: a concurrent request may have banned it first, and the
    // first time is the one that stays.
    OFFBOARD_ASSIGN_OR_RETURN(enrollment, store.GetEnrollment(caller.agent_id));
  }
  common::AuditEvent("agent_decommissioned",
                     {{"agent_id", caller.agent_id},
                      {"vendor_id", caller.vendor_id},
                      {"host_id", caller.host_id},
                      {"banned_at", absl::StrCat(enrollment->banned_at)},
                      {"already_banned", already_banned ? "true" : "false"}});
  offboard::v1::DecommissionResponse response;
  response.set_agent_id(caller.agent_id);
  *response.mutable_banned_at() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(enrollment->banned_at);
  response.set_already_banned(already_banned);
  return response;
}

grpc::Status OrderService::Decommission(grpc::ServerContext* context,
                                        const offboard::v1::DecommissionRequest* request,
                                        offboard::v1::DecommissionResponse* response) {
  const int64_t now = clock_();
  absl::StatusOr<common::AgentIdentity> caller = CallerIdentity(*context, now);
  absl::StatusOr<offboard::v1::DecommissionResponse> result =
      caller.ok() ? DecommissionAgent(store_, *caller, *request, now)
                  : absl::StatusOr<offboard::v1::DecommissionResponse>(caller.status());
  if (!result.ok()) {
    common::AuditEvent("rpc_refused", {{"rpc", "Decommission"},
                                       {"peer", context->peer()},
                                       {"agent_id", caller.ok() ? caller->agent_id : "-"},
                                       {"vendor_id", caller.ok() ? caller->vendor_id : "-"},
                                       {"requested_agent_id", request->agent_id()},
                                       {"reason", std::string(result.status().message())}});
    return common::ToGrpcStatus(result.status());
  }
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status AttestationService::Submit(grpc::ServerContext* context,
                                        const offboard::v1::SubmitAttestationRequest* request,
                                        offboard::v1::SubmitAttestationResponse* response) {
  // The intake checks the enrollment itself (and records what it refuses).
  const int64_t now = clock_();
  absl::StatusOr<common::AgentIdentity> caller = CallerIdentity(*context, now);
  if (!caller.ok()) {
    common::AuditEvent("rpc_refused", {{"rpc", "Submit"},
                                       {"peer", context->peer()},
                                       {"reason", std::string(caller.status().message())}});
    return common::ToGrpcStatus(caller.status());
  }
  absl::StatusOr<offboard::v1::Receipt> receipt =
      intake_.Accept(*caller, request->order_id(), request->envelope(), now);
  if (!receipt.ok()) return common::ToGrpcStatus(receipt.status());
  *response->mutable_receipt() = *std::move(receipt);
  return grpc::Status::OK;
}

}  // namespace offboard::controller
