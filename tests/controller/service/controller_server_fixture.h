// A controller serving gRPC over real TLS on loopback, in a temporary home,
// with helpers that play its agents: enroll with a token, pull, attest,
// decommission. Its clock stands still at kNow unless a test moves now_. For tests of the server.
#ifndef OFFBOARD_TESTS_CONTROLLER_SERVICE_CONTROLLER_SERVER_FIXTURE_H_
#define OFFBOARD_TESTS_CONTROLLER_SERVICE_CONTROLLER_SERVER_FIXTURE_H_

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/intoto/statement.h"
#include "common/io/read_file.h"
#include "common/policy/wipe_policy.h"
#include "common/signed/signed_messages.h"
#include "common/tls/key_and_csr.h"
#include "controller/server/controller_server.h"
#include "offboard/v1/attestation.grpc.pb.h"
#include "offboard/v1/enrollment.grpc.pb.h"
#include "offboard/v1/orders.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller::testing_support {

// The server's clock starts at the real time of the test run: the agent
// certificates it issues are valid from its clock's time, and TLS checks
// them against the real one.
inline const int64_t kNow = static_cast<int64_t>(std::time(nullptr));

struct Agent {
  std::string agent_id;
  common::KeyAndCsr tls;
  std::string certificate_pem;
  common::Ed25519PrivateKey attestation_key = *common::Ed25519PrivateKey::Generate();
};

class ControllerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitControllerHome(temp_.path() / "controller", {"localhost", "127.0.0.1"}).ok());
    auto home = OpenControllerHome(temp_.path() / "controller");
    ASSERT_TRUE(home.ok()) << home.status();
    home_.emplace(*std::move(home));
    auto server = ControllerServer::Start(*home_, {.listen = "127.0.0.1:0",
                                                   .max_message_bytes = 1 << 20,
                                                   .clock = [this] { return now_.load(); }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ca_pem_ = *common::ReadFileToString(home_->paths.CaDir() / "ca.pem");
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& key_pem, const std::string& cert_pem,
                                         const std::string& roots = "") {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = roots.empty() ? ca_pem_ : roots;
    tls.pem_private_key = key_pem;
    tls.pem_cert_chain = cert_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    args.SetMaxSendMessageSize(8 << 20);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                     grpc::SslCredentials(tls), args);
  }

  std::string Token(const std::string& vendor, const std::string& host) {
    const std::string token = absl::StrCat("token-", vendor, "-", host);
    EXPECT_TRUE(home_->store
                    ->PutToken({.token_sha256_hex = common::DigestHex(common::Sha256Of(token)),
                                .vendor_id = vendor,
                                .host_id = host,
                                .created_at = kNow,
                                .expires_at = kNow + 3600,
                                .used = false})
                    .ok());
    return token;
  }

  grpc::Status Enroll(const std::string& token, Agent& agent) {
    agent.tls = *common::GenerateKeyAndCsr("agent");
    offboard::v1::EnrollRequest request;
    request.set_token(token);
    request.set_csr_pem(agent.tls.csr_pem);
    request.set_attestation_public_key_pem(agent.attestation_key.PublicKey().ToPem());
    request.set_hostname("test-host");
    offboard::v1::EnrollResponse response;
    grpc::ClientContext context;
    auto stub = offboard::v1::EnrollmentService::NewStub(Channel("", ""));
    const grpc::Status status = stub->Enroll(&context, request, &response);
    agent.agent_id = response.agent_id();
    agent.certificate_pem = response.client_certificate_pem();
    return status;
  }

  Agent MustEnroll(const std::string& vendor, const std::string& host) {
    Agent agent;
    const grpc::Status status = Enroll(Token(vendor, host), agent);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return agent;
  }

  // An order for `agent`, stored as terminate would.
  OrderRow IssueOrder(const Agent& agent, const std::string& vendor,
                      int64_t expires_at = kNow + 600) {
    const std::string suffix = std::to_string(orders_++);
    EXPECT_TRUE(
        home_->store
            ->ImportInventory(
                {{"c-" + vendor, vendor, "ds", "secret", "a.csv", 3, std::string(64, 'a')}}, {})
            .ok());
    offboard::v1::WipeOrder order;
    order.set_order_id("order-" + suffix);
    order.set_contract_id("c-" + vendor);
    order.set_vendor_id(vendor);
    order.set_agent_id(agent.agent_id);
    order.set_nonce_hex(std::string(63, 'b') + suffix.back());
    *order.mutable_expires_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(expires_at);
    *order.mutable_policy() = *common::LoadWipePolicy(
        OFFBOARD_TESTDATA_DIR "/../../policies/nist-800-88-clear.textproto");
    OrderRow row{.order_id = order.order_id(),
                 .contract_id = order.contract_id(),
                 .vendor_id = vendor,
                 .host_id = "",
                 .agent_id = agent.agent_id,
                 .nonce_hex = order.nonce_hex(),
                 .policy_name = "p",
                 .issued_at = kNow,
                 .expires_at = expires_at,
                 .envelope = common::SignWipeOrder(order, home_->key)};
    row.host_id = home_->store->GetEnrollment(agent.agent_id)->host_id;
    EXPECT_TRUE(home_->store->PutOrders({row}).ok());
    return row;
  }

  static std::string Attestation(const OrderRow& order, const common::Ed25519PrivateKey& key,
                                 const std::string& extra = "",
                                 const nlohmann::json& fields = nlohmann::json::object()) {
    common::InTotoStatement statement;
    statement.predicate_type = std::string(common::kDeletionPredicateType);
    statement.subjects.push_back({.name = "a.csv", .digest = {{"sha256", std::string(64, 'a')}}});
    statement.predicate = {{"order_id", order.order_id},
                           {"nonce", order.nonce_hex},
                           {"items", nlohmann::json::array()},
                           {"note", extra}};
    statement.predicate.update(fields);
    return common::SerializeDsseEnvelope(
        common::SignDsse(common::kInTotoPayloadType, common::SerializeStatement(statement), key));
  }

  // Part `part` ({"index", "count"}) of run `run`'s attestation for `order`
  // (common/reconcile/attestation_parts.h), holding one error of the
  // post-wipe scan: a part that holds nothing is refused.
  static std::string AttestationPart(const OrderRow& order, const common::Ed25519PrivateKey& key,
                                     const std::string& run, const nlohmann::json& part,
                                     const std::string& extra = "") {
    return Attestation(order, key, extra,
                       {{"run_id", run},
                        {"part", part},
                        {"post_wipe_scan",
                         {{"errors", {{{"path", "/srv/locked.zip"}, {"reason", "encrypted"}}}}}}});
  }

  grpc::Status Submit(const Agent& agent, const std::string& order_id, const std::string& envelope,
                      offboard::v1::SubmitAttestationResponse* response) {
    offboard::v1::SubmitAttestationRequest request;
    request.set_order_id(order_id);
    request.set_envelope(envelope);
    grpc::ClientContext context;
    auto stub = offboard::v1::AttestationService::NewStub(
        Channel(agent.tls.private_key_pem, agent.certificate_pem));
    return stub->Submit(&context, request, response);
  }

  grpc::Status Decommission(const Agent& agent, const std::string& requested_agent_id,
                            offboard::v1::DecommissionResponse* response) {
    offboard::v1::DecommissionRequest request;
    request.set_agent_id(requested_agent_id);
    grpc::ClientContext context;
    auto stub = offboard::v1::OrderService::NewStub(
        Channel(agent.tls.private_key_pem, agent.certificate_pem));
    return stub->Decommission(&context, request, response);
  }

  bool Banned(const Agent& agent) { return home_->store->GetEnrollment(agent.agent_id)->banned; }

  grpc::Status Pull(const Agent& agent, offboard::v1::PullOrdersResponse* response) {
    grpc::ClientContext context;
    auto stub = offboard::v1::OrderService::NewStub(
        Channel(agent.tls.private_key_pem, agent.certificate_pem));
    return stub->PullOrders(&context, {}, response);
  }

  offboard::testing::TempDir temp_;
  std::optional<ControllerHome> home_;
  std::unique_ptr<ControllerServer> server_;
  std::atomic<int64_t> now_{kNow};  // the server's clock; stands still unless a test moves it
  std::string ca_pem_;
  int orders_ = 0;
};

}  // namespace offboard::controller::testing_support

#endif  // OFFBOARD_TESTS_CONTROLLER_SERVICE_CONTROLLER_SERVER_FIXTURE_H_
