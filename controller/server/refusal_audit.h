// Audits the calls that gRPC refuses before any of the controller's handlers
// sees them, such as bytes that are not the method's protobuf message (which
// gRPC answers with an empty INTERNAL; this makes it INVALID_ARGUMENT). The
// handlers audit their own refusals with what they know (agent, order,
// reason); this interceptor covers the rest with an `rpc_refused` event
// naming the method, peer and status.
//
// Not covered: a request over the size limit is refused inside gRPC's core
// with RESOURCE_EXHAUSTED before any C++ code, interceptors included, sees
// the call; it leaves no audit event.
//
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
//   f.push_back(std::make_unique<RefusalAuditFactory>());
//   builder.experimental().SetInterceptorCreators(std::move(f));
//
// Thread-safe: one interceptor per call.
#ifndef OFFBOARD_CONTROLLER_SERVER_REFUSAL_AUDIT_H_
#define OFFBOARD_CONTROLLER_SERVER_REFUSAL_AUDIT_H_

#include <grpcpp/support/server_interceptor.h>

namespace offboard::controller {

class RefusalAuditFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_SERVER_REFUSAL_AUDIT_H_
