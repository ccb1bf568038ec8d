// The controller's gRPC services (proto/offboard/v1): enrollment, order
// pull, heartbeats and decommissioning, attestation submission. Handlers are thin: they find
// out who is calling, call a plain function, and turn its absl::Status into a
// grpc::Status.
//
// Enroll is the one RPC an agent makes before it has a certificate: it is
// authorized by its single-use token instead. Every other RPC requires a
// client certificate issued by the controller's CA, names one agent, and
// sees only that agent's orders.
//
// Thread-safe: gRPC calls the handlers concurrently.
#ifndef OFFBOARD_CONTROLLER_SERVICE_CONTROLLER_SERVICES_H_
#define OFFBOARD_CONTROLLER_SERVICE_CONTROLLER_SERVICES_H_

#include <functional>
#include <string>
#include <utility>

#include "controller/ca/certificate_authority.h"
#include "controller/intake/attestation_intake.h"
#include "controller/store/store.h"
#include "offboard/v1/attestation.grpc.pb.h"
#include "offboard/v1/enrollment.grpc.pb.h"
#include "offboard/v1/orders.grpc.pb.h"

namespace offboard::controller {

// Seconds since the epoch; tests inject their own clock.
using Clock = std::function<int64_t()>;
int64_t SystemNow();

// How long an agent certificate is valid.
inline constexpr int kAgentCertificateDays = 397;

// Enrolls an agent: checks and spends the token, issues the client
// certificate for the CSR and records the attestation key. Errors:
// PERMISSION_DENIED for a bad token (unknown, used or expired, not saying
// which), INVALID_ARGUMENT for a bad CSR or key.
absl::StatusOr<offboard::v1::EnrollResponse> EnrollAgent(ControllerStore& store,
                                                         const CertificateAuthority& ca,
                                                         const std::string& controller_public_pem,
                                                         const offboard::v1::EnrollRequest& request,
                                                         int64_t now);

class EnrollmentService final : public offboard::v1::EnrollmentService::Service {
 public:
  EnrollmentService(ControllerStore& store, const CertificateAuthority& ca,
                    std::string controller_public_pem, Clock clock)
      : store_(store), ca_(ca), controller_public_pem_(std::move(controller_public_pem)),
        clock_(std::move(clock)) {}
  grpc::Status Enroll(grpc::ServerContext* context, const offboard::v1::EnrollRequest* request,
                      offboard::v1::EnrollResponse* response) override;

 private:
  ControllerStore& store_;
  const CertificateAuthority& ca_;
  std::string controller_public_pem_;
  Clock clock_;
};

// Decommissions the caller, and only the caller: bans its enrollment at
// `now`, or later if an attestation of it was logged later
// (ControllerStore::BanAgent), and writes an audit event. A caller that
// is banned already gets its original ban time with already_banned set, so a
// repeated request is harmless. Errors: PERMISSION_DENIED when the caller is
// not enrolled, its certificate names another vendor or host than its
// enrollment, or `request.agent_id` is not the caller's (nothing is banned);
// INVALID_ARGUMENT for an empty `request.agent_id`; the store's errors.
absl::StatusOr<offboard::v1::DecommissionResponse> DecommissionAgent(
    ControllerStore& store, const common::AgentIdentity& caller,
    const offboard::v1::DecommissionRequest& request, int64_t now);

class OrderService final : public offboard::v1::OrderService::Service {
 public:
  explicit OrderService(ControllerStore& store, Clock clock = SystemNow)
      : store_(store), clock_(std::move(clock)) {}
  grpc::Status PullOrders(grpc::ServerContext* context, const offboard::v1::PullOrdersRequest* request,
                          offboard::v1::PullOrdersResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const offboard::v1::HeartbeatRequest* request,
                         offboard::v1::HeartbeatResponse* response) override;
  // Authorized by the certificate alone (not AuthorizedCaller, which refuses
  // a banned agent): a repeated request from a banned caller is answered.
  grpc::Status Decommission(grpc::ServerContext* context,
                            const offboard::v1::DecommissionRequest* request,
                            offboard::v1::DecommissionResponse* response) override;

 private:
  ControllerStore& store_;
  Clock clock_;
};

class AttestationService final : public offboard::v1::AttestationService::Service {
 public:
  // The intake checks the caller's enrollment against the store itself.
  AttestationService(AttestationIntake& intake, Clock clock)
      : intake_(intake), clock_(std::move(clock)) {}
  grpc::Status Submit(grpc::ServerContext* context,
                      const offboard::v1::SubmitAttestationRequest* request,
                      offboard::v1::SubmitAttestationResponse* response) override;

 private:
  AttestationIntake& intake_;
  Clock clock_;
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_SERVICE_CONTROLLER_SERVICES_H_
