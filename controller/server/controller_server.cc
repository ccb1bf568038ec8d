#include "controller/server/controller_server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/io/read_file.h"
#include "common/log/audit.h"
#include "common/rpc/grpc_lifetime.h"
#include "common/status/status_macros.h"
#include "controller/server/refusal_audit.h"

namespace offboard::controller {

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(
    ControllerHome& home, const ServeOptions& options) {
  std::unique_ptr<ControllerServer> server(new ControllerServer());
  OFFBOARD_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Load(home.paths.CaDir()));
  server->ca_ = std::make_unique<CertificateAuthority>(std::move(ca));
  OFFBOARD_ASSIGN_OR_RETURN(std::string certificate,
                            common::ReadFileToString(home.paths.ServerCertificate()));
  OFFBOARD_ASSIGN_OR_RETURN(std::string key, common::ReadFileToString(home.paths.ServerKey()));
  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PrivateKey log_key,
                            common::Ed25519PrivateKey::Load(home.paths.SigningKey()));
  OFFBOARD_ASSIGN_OR_RETURN(server->log_, TransparencyLog::Open(*home.store, std::move(log_key)));
  server->intake_ = std::make_unique<AttestationIntake>(*home.store, *server->log_);
  server->enrollment_ = std::make_unique<EnrollmentService>(
      *home.store, *server->ca_, home.key.PublicKey().ToPem(), options.clock);
  server->orders_ = std::make_unique<OrderService>(*home.store, options.clock);
  server->attestations_ = std::make_unique<AttestationService>(*server->intake_, options.clock);

  common::KeepGrpcUntilExit();  // the caller has set its signal mask by now
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = server->ca_->CertificatePem();
  tls.pem_key_cert_pairs.push_back({key, certificate});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::SslServerCredentials(tls), &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // gRPC's default keeps at most two threads polling: under many agents a
  // worker thread then exits after each call and a new one is made for the
  // next. Letting more poll saves that churn (about 5% more attestations per
  // second in bench/attestation_load.cc with 8 clients on 2 cores).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  builder.RegisterService(server->enrollment_.get());
  builder.RegisterService(server->orders_.get());
  builder.RegisterService(server->attestations_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RefusalAuditFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  common::AuditEvent("controller_serving", {{"listen", options.listen},
                                            {"port", absl::StrCat(server->port_)},
                                            {"log_size", absl::StrCat(server->log_->size())}});
  return server;
}

ControllerServer::~ControllerServer() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

void ControllerServer::Shutdown(std::chrono::milliseconds grace) {
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  common::AuditEvent("controller_stopped", {{"log_size", absl::StrCat(log_->size())}});
}

}  // namespace offboard::controller
