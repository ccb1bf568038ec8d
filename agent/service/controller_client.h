// The agent's side of the controller's gRPC services: Enroll over TLS without
// a client certificate (the token authorizes it), then PullOrders, Heartbeat,
// Submit and, at the very end, Decommission over mutual TLS with the
// certificate that enrollment returned.
//
//   OFFBOARD_ASSIGN_OR_RETURN(v1::EnrollResponse enrolled, EnrollWithController(endpoint,
//   request)); OFFBOARD_ASSIGN_OR_RETURN(ControllerClient client,
//   ControllerClient::Connect(endpoint, credentials));
//   OFFBOARD_ASSIGN_OR_RETURN(v1::PullOrdersResponse orders, client.PullOrders());
//
// Every call has a deadline, and messages are bounded like the server's. A
// gRPC error comes back as the absl::Status of the same code with the
// server's message prefixed by the method and the controller's address.
//
// Thread-safe: gRPC stubs may be shared between threads.
#ifndef OFFBOARD_AGENT_SERVICE_CONTROLLER_CLIENT_H_
#define OFFBOARD_AGENT_SERVICE_CONTROLLER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "offboard/v1/attestation.grpc.pb.h"
#include "offboard/v1/enrollment.grpc.pb.h"
#include "offboard/v1/orders.grpc.pb.h"

namespace offboard::agent {

inline constexpr std::chrono::seconds kRpcDeadline{30};
inline constexpr int kMaxMessageBytes = 16 << 20;  // as the controller's default
// The largest attestation envelope a submission can carry, leaving room for
// the rest of the request.
inline constexpr size_t kMaxEnvelopeBytes = kMaxMessageBytes - (64 << 10);

// Where the controller is and how its server certificate is checked.
struct ControllerEndpoint {
  std::string address;  // HOST:PORT
  std::string ca_pem;   // the controller's CA; the only trust root
};

// The agent's client certificate for mutual TLS.
struct ClientCredentials {
  std::string private_key_pem;
  std::string certificate_pem;
};

// INVALID_ARGUMENT unless `address` is HOST:PORT with a port in 1..65535.
absl::Status CheckControllerAddress(const std::string& address);

// Whether a failed call may succeed later unchanged (the controller is down,
// overloaded, slow, or failed itself): UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED, and INTERNAL, DATA_LOSS, UNKNOWN, which the
// controller answers for its own failures without recording a refusal.
bool IsTransient(const absl::Status& status);

// Calls Enroll; the server's error (UNAUTHENTICATED for a bad token) comes back
// with its message.
absl::StatusOr<offboard::v1::EnrollResponse> EnrollWithController(
    const ControllerEndpoint& endpoint, const offboard::v1::EnrollRequest& request);

class ControllerClient {
 public:
  // Makes the channel; connecting happens on the first call.
  static absl::StatusOr<ControllerClient> Connect(const ControllerEndpoint& endpoint,
                                                  const ClientCredentials& credentials);

  absl::StatusOr<offboard::v1::PullOrdersResponse> PullOrders() const;
  // Best effort: callers usually log and go on when a heartbeat fails.
  absl::Status Heartbeat(const offboard::v1::HeartbeatRequest& request) const;
  absl::StatusOr<offboard::v1::Receipt> Submit(const std::string& order_id,
                                               const std::string& envelope) const;
  // Asks the controller to ban this agent for good; `agent_id` is the one
  // the enrollment record names (the controller bans the certificate's).
  absl::StatusOr<offboard::v1::DecommissionResponse> Decommission(
      const std::string& agent_id) const;

  const std::string& address() const { return address_; }

 private:
  ControllerClient() = default;

  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<offboard::v1::OrderService::Stub> orders_;
  std::shared_ptr<offboard::v1::AttestationService::Stub> attestations_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_CONTROLLER_CLIENT_H_
