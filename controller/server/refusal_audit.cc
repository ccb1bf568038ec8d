#include "controller/server/refusal_audit.h"

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "common/log/audit.h"

namespace offboard::controller {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RefusalAudit final : public grpc::experimental::Interceptor {
 public:
  explicit RefusalAudit(grpc::experimental::ServerRpcInfo* info) : info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      request_arrived_ = true;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (!status.ok() && !request_arrived_) {
        // For a unary call the only way to fail before the request arrives
        // in C++ is a request that does not parse, which gRPC answers with
        // an empty INTERNAL: it is the caller's error, and says so.
        if (status.error_code() == grpc::StatusCode::INTERNAL) {
          status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "the request is not a valid protobuf message for this method");
          methods->ModifySendStatus(status);
        }
        common::AuditEvent(
            "rpc_refused",
            {{"rpc", std::string(info_->method())},
             {"peer", info_->server_context()->peer()},
             {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
             {"reason", status.error_message()}});
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  bool request_arrived_ = false;
};

}  // namespace

grpc::experimental::Interceptor* RefusalAuditFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RefusalAudit(info);
}

}  // namespace offboard::controller
