#include "agent/service/controller_client.h"

#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_lifetime.h"
#include "common/rpc/grpc_status.h"

namespace offboard::agent {
namespace {

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Reconnect quickly once the controller is back; our own backoff paces calls.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return args;
}

std::shared_ptr<grpc::Channel> MakeChannel(const ControllerEndpoint& endpoint,
                                           const ClientCredentials& credentials) {
  common::KeepGrpcUntilExit();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = endpoint.ca_pem;
  tls.pem_private_key = credentials.private_key_pem;
  tls.pem_cert_chain = credentials.certificate_pem;
  return grpc::CreateCustomChannel(endpoint.address, grpc::SslCredentials(tls), ChannelArgs());
}

void SetDeadline(grpc::ClientContext& context, std::chrono::seconds deadline = kRpcDeadline) {
  context.set_deadline(std::chrono::system_clock::now() + deadline);
}

absl::Status Described(const grpc::Status& status, absl::string_view method,
                       const std::string& address) {
  const absl::Status converted = common::FromGrpcStatus(status);
  if (converted.ok()) return converted;
  return absl::Status(converted.code(),
                      absl::StrCat(method, " at ", address, ": ", converted.message()));
}

}  // namespace

absl::Status CheckControllerAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--controller '", address, "': expected HOST:PORT"));
  }
  const std::string port_text = address.substr(colon + 1);
  int port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--controller '", address, "': port must be 1..65535"));
  }
  return absl::OkStatus();
}

bool IsTransient(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    // The controller's own failures (its store or log): it records no refusal
    // for them and expects the call again.
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<offboard::v1::EnrollResponse> EnrollWithController(
    const ControllerEndpoint& endpoint, const offboard::v1::EnrollRequest& request) {
  auto stub = offboard::v1::EnrollmentService::NewStub(MakeChannel(endpoint, {}));
  grpc::ClientContext context;
  SetDeadline(context);
  offboard::v1::EnrollResponse response;
  const grpc::Status status = stub->Enroll(&context, request, &response);
  if (!status.ok()) return Described(status, "Enroll", endpoint.address);
  return response;
}

absl::StatusOr<ControllerClient> ControllerClient::Connect(const ControllerEndpoint& endpoint,
                                                           const ClientCredentials& credentials) {
  if (credentials.private_key_pem.empty() || credentials.certificate_pem.empty()) {
    return absl::FailedPreconditionError("no client certificate: enroll the agent first");
  }
  ControllerClient client;
  client.address_ = endpoint.address;
  client.channel_ = MakeChannel(endpoint, credentials);
  client.orders_ = offboard::v1::OrderService::NewStub(client.channel_);
  client.attestations_ = offboard::v1::AttestationService::NewStub(client.channel_);
  return client;
}

absl::StatusOr<offboard::v1::PullOrdersResponse> ControllerClient::PullOrders() const {
  grpc::ClientContext context;
  SetDeadline(context);
  offboard::v1::PullOrdersResponse response;
  const grpc::Status status = orders_->PullOrders(&context, {}, &response);
  if (!status.ok()) return Described(status, "PullOrders", address_);
  return response;
}

absl::Status ControllerClient::Heartbeat(const offboard::v1::HeartbeatRequest& request) const {
  grpc::ClientContext context;
  SetDeadline(context, std::chrono::seconds(5));
  offboard::v1::HeartbeatResponse response;
  return Described(orders_->Heartbeat(&context, request, &response), "Heartbeat", address_);
}

absl::StatusOr<offboard::v1::Receipt> ControllerClient::Submit(const std::string& order_id,
                                                               const std::string& envelope) const {
  offboard::v1::SubmitAttestationRequest request;
  request.set_order_id(order_id);
  request.set_envelope(envelope);
  grpc::ClientContext context;
  SetDeadline(context);
  offboard::v1::SubmitAttestationResponse response;
  const grpc::Status status = attestations_->Submit(&context, request, &response);
  if (!status.ok()) return Described(status, "Submit", address_);
  return response.receipt();
}

absl::StatusOr<offboard::v1::DecommissionResponse> ControllerClient::Decommission(
    const std::string& agent_id) const {
  offboard::v1::DecommissionRequest request;
  request.set_agent_id(agent_id);
  grpc::ClientContext context;
  SetDeadline(context);
  offboard::v1::DecommissionResponse response;
  const grpc::Status status = orders_->Decommission(&context, request, &response);
  if (!status.ok()) return Described(status, "Decommission", address_);
  return response;
}

}  // namespace offboard::agent
