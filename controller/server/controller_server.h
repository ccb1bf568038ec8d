// The controller's gRPC server: the three services behind mutual TLS, with
// the health service, a maximum message size and graceful shutdown.
//
// Client certificates are requested and, when presented, verified against
// the controller's CA; a connection without one can reach only Enroll (which
// a token authorizes) and the health check — every other RPC refuses a caller
// without a verified certificate. There is no plaintext mode.
//
//   OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<ControllerServer> server,
//                             ControllerServer::Start(home, {.listen = "127.0.0.1:0"}));
//   server->port();  ...  server->Shutdown(std::chrono::seconds(10));
//
// Thread-safe.
#ifndef OFFBOARD_CONTROLLER_SERVER_CONTROLLER_SERVER_H_
#define OFFBOARD_CONTROLLER_SERVER_CONTROLLER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/ca/certificate_authority.h"
#include "controller/cli/controller_home.h"
#include "controller/intake/attestation_intake.h"
#include "controller/service/controller_services.h"
#include "controller/tlog/transparency_log.h"

namespace offboard::controller {

struct ServeOptions {
  std::string listen;                   // "HOST:PORT"; port 0 picks a free one
  int max_message_bytes = 16 << 20;     // larger requests are refused
  Clock clock = SystemNow;
};

class ControllerServer {
 public:
  // Loads the CA, the server certificate and the log from `home` (which must
  // outlive the server) and starts listening. UNAVAILABLE when the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<ControllerServer>> Start(ControllerHome& home,
                                                                 const ServeOptions& options);
  ~ControllerServer();

  int port() const { return port_; }
  // Stops taking calls, lets running ones finish within `grace`, then cancels them.
  void Shutdown(std::chrono::milliseconds grace);
  void Wait() { server_->Wait(); }

 private:
  ControllerServer() = default;

  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<TransparencyLog> log_;
  std::unique_ptr<AttestationIntake> intake_;
  std::unique_ptr<EnrollmentService> enrollment_;
  std::unique_ptr<OrderService> orders_;
  std::unique_ptr<AttestationService> attestations_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_SERVER_CONTROLLER_SERVER_H_
