// Who is calling: the agent identity in the client certificate that TLS
// verified against the controller's CA. Every RPC but Enroll is authorized
// from this alone (ARCHITECTURE.md, "Identity").
#ifndef OFFBOARD_CONTROLLER_SERVICE_CALLER_IDENTITY_H_
#define OFFBOARD_CONTROLLER_SERVICE_CALLER_IDENTITY_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/tls/agent_identity.h"
#include "controller/store/store.h"

namespace offboard::controller {

// UNAUTHENTICATED when the call carries no verified client certificate, or
// one not valid at `now` (the server's clock, Unix seconds: a connection may
// outlive its certificate); PERMISSION_DENIED when the certificate names no
// single agent identity.
absl::StatusOr<common::AgentIdentity> CallerIdentity(const grpc::ServerContext& context,
                                                     int64_t now);

// The caller's identity, checked against its enrollment: PERMISSION_DENIED
// (and an audit event) for an agent that is not enrolled, was banned, or whose
// certificate names another vendor or host than it enrolled with.
absl::StatusOr<common::AgentIdentity> AuthorizedCaller(const grpc::ServerContext& context,
                                                       ControllerStore& store,
                                                       absl::string_view rpc, int64_t now);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_SERVICE_CALLER_IDENTITY_H_
