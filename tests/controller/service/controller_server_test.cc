// The controller's gRPC server over real TLS on loopback: an agent enrolls
// with a token, pulls only its own orders and attests to them; the receipt's
// inclusion proof verifies against the signed tree head. Refused: no client
// certificate, a certificate from another CA, a reused token, another
// vendor's agent, a forged or replayed-with-changes attestation, an oversized
// message — and the server keeps serving after each. Decommission bans the
// caller only, answers a repeat, and a banned certificate opens nothing.
#include "controller/server/controller_server.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/io/read_file.h"
#include "common/intoto/statement.h"
#include "common/merkle/merkle.h"
#include "common/policy/wipe_policy.h"
#include "common/signed/signed_messages.h"
#include "common/tls/key_and_csr.h"
#include "common/tls/x509.h"
#include "controller/ca/certificate_builder.h"
#include "offboard/v1/attestation.grpc.pb.h"
#include "offboard/v1/enrollment.grpc.pb.h"
#include "offboard/v1/orders.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

constexpr int64_t kNow = 1800000000;

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
    auto server = ControllerServer::Start(
        *home_, {.listen = "127.0.0.1:0", .max_message_bytes = 1 << 20, .clock = [] { return kNow; }});
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
  OrderRow IssueOrder(const Agent& agent, const std::string& vendor) {
    const std::string suffix = std::to_string(orders_++);
    EXPECT_TRUE(home_->store
                    ->ImportInventory({{"c-" + vendor, vendor, "ds", "secret", "a.csv", 3,
                                        std::string(64, 'a')}},
                                      {})
                    .ok());
    offboard::v1::WipeOrder order;
    order.set_order_id("order-" + suffix);
    order.set_contract_id("c-" + vendor);
    order.set_vendor_id(vendor);
    order.set_agent_id(agent.agent_id);
    order.set_nonce_hex(std::string(63, 'b') + suffix.back());
    *order.mutable_expires_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(kNow + 600);
    *order.mutable_policy() =
        *common::LoadWipePolicy(OFFBOARD_TESTDATA_DIR "/../../policies/nist-800-88-clear.textproto");
    OrderRow row{.order_id = order.order_id(), .contract_id = order.contract_id(),
                 .vendor_id = vendor, .host_id = "", .agent_id = agent.agent_id,
                 .nonce_hex = order.nonce_hex(), .policy_name = "p", .issued_at = kNow,
                 .expires_at = kNow + 600, .envelope = common::SignWipeOrder(order, home_->key)};
    row.host_id = home_->store->GetEnrollment(agent.agent_id)->host_id;
    EXPECT_TRUE(home_->store->PutOrders({row}).ok());
    return row;
  }

  static std::string Attestation(const OrderRow& order, const common::Ed25519PrivateKey& key,
                                 const std::string& extra = "") {
    common::InTotoStatement statement;
    statement.predicate_type = std::string(common::kDeletionPredicateType);
    statement.subjects.push_back({.name = "a.csv", .digest = {{"sha256", std::string(64, 'a')}}});
    statement.predicate = {{"order_id", order.order_id}, {"nonce", order.nonce_hex},
                           {"items", nlohmann::json::array()}, {"note", extra}};
    return common::SerializeDsseEnvelope(common::SignDsse(
        common::kInTotoPayloadType, common::SerializeStatement(statement), key));
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

  testing::TempDir temp_;
  std::optional<ControllerHome> home_;
  std::unique_ptr<ControllerServer> server_;
  std::string ca_pem_;
  int orders_ = 0;
};

TEST_F(ControllerServerTest, EnrollPullAttestAndVerifyTheReceipt) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  EXPECT_FALSE(agent.certificate_pem.empty());
  const OrderRow order = IssueOrder(agent, "vendor-a");

  offboard::v1::PullOrdersResponse pulled;
  ASSERT_TRUE(Pull(agent, &pulled).ok());
  ASSERT_EQ(pulled.orders_size(), 1);
  const auto verified = common::VerifyWipeOrder(pulled.orders(0).envelope(),
                                                home_->key.PublicKey(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.status();

  const std::string envelope = Attestation(order, agent.attestation_key);
  offboard::v1::SubmitAttestationResponse response;
  const grpc::Status status = Submit(agent, order.order_id, envelope, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const offboard::v1::Receipt& receipt = response.receipt();
  EXPECT_EQ(receipt.log_index(), 0u);
  const auto head = common::VerifyTreeHead(receipt.signed_tree_head(), home_->key.PublicKey());
  ASSERT_TRUE(head.ok()) << head.status();
  std::vector<common::MerkleHash> proof;
  for (const std::string& hex : receipt.inclusion_proof_hex()) {
    const auto bytes = *common::HexDecode(hex);
    common::MerkleHash hash{};
    std::copy(bytes.begin(), bytes.end(), hash.begin());
    proof.push_back(hash);
  }
  const auto root_bytes = *common::HexDecode(head->root_hash_hex());
  common::MerkleHash root{};
  std::copy(root_bytes.begin(), root_bytes.end(), root.begin());
  EXPECT_TRUE(common::VerifyInclusion(common::LeafHash(std::string_view(envelope)),
                                      receipt.log_index(), head->tree_size(), proof, root)
                  .ok());

  // The same envelope again: the same receipt; another one: refused.
  offboard::v1::SubmitAttestationResponse again;
  ASSERT_TRUE(Submit(agent, order.order_id, envelope, &again).ok());
  EXPECT_EQ(again.receipt().log_index(), 0u);
  EXPECT_EQ(Submit(agent, order.order_id, Attestation(order, agent.attestation_key, "other"), &again)
                .error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(ControllerServerTest, RefusesCallersWithoutAValidCertificate) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  // No certificate at all.
  Agent anonymous = agent;
  anonymous.certificate_pem.clear();
  anonymous.tls.private_key_pem.clear();
  offboard::v1::PullOrdersResponse pulled;
  EXPECT_EQ(Pull(anonymous, &pulled).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A certificate from another CA: the handshake fails.
  auto other_ca = *CertificateAuthority::Create("other");
  Agent stranger = agent;
  stranger.certificate_pem =
      other_ca.SignAgentCsr(agent.tls.csr_pem, {"vendor-a", "host-1", agent.agent_id}, 30)
          ->certificate_pem;
  EXPECT_NE(Pull(stranger, &pulled).error_code(), grpc::StatusCode::OK);
  // The server still serves the real agent.
  EXPECT_TRUE(Pull(agent, &pulled).ok());
}

TEST_F(ControllerServerTest, RefusesAnExpiredCertificateFromItsOwnCa) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  // The same identity and key, signed by the controller's own CA, but valid
  // only until yesterday.
  const auto ca_cert = *common::ParseCertificatePem(ca_pem_);
  const auto ca_key = *common::ParsePrivateKeyPem(
      *common::ReadFileToString(home_->paths.CaDir() / "ca-key.pem"));
  const auto csr = *common::ParseCsrPem(agent.tls.csr_pem);
  auto builder = *CertificateBuilder::Start(X509_REQ_get0_pubkey(csr.get()));
  ASSERT_TRUE(builder.AddSubjectEntry(NID_commonName, agent.agent_id).ok());
  const std::time_t now = std::time(nullptr);
  ASSERT_TRUE(builder.SetValidity(now - 10 * 86400, now - 86400).ok());
  ASSERT_TRUE(builder
                  .AddSubjectAltNames({{GEN_URI, common::AgentIdentityUri(
                                                     {"vendor-a", "host-1", agent.agent_id})}})
                  .ok());
  const auto expired = builder.Sign(ca_cert.get(), ca_key.get());
  ASSERT_TRUE(expired.ok()) << expired.status();
  Agent stale = agent;
  stale.certificate_pem = common::CertificateToPem(expired->get());
  offboard::v1::PullOrdersResponse pulled;
  EXPECT_NE(Pull(stale, &pulled).error_code(), grpc::StatusCode::OK);
  EXPECT_TRUE(Pull(agent, &pulled).ok());
}

TEST_F(ControllerServerTest, ATokenIsSpentOnce) {
  const std::string token = Token("vendor-a", "host-1");
  Agent first, second;
  ASSERT_TRUE(Enroll(token, first).ok());
  EXPECT_EQ(Enroll(token, second).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Enroll("never-issued", second).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ControllerServerTest, AnotherVendorNeitherSeesNorAttests) {
  Agent a = MustEnroll("vendor-a", "host-1");
  Agent b = MustEnroll("vendor-b", "host-9");
  const OrderRow order = IssueOrder(a, "vendor-a");
  offboard::v1::PullOrdersResponse pulled;
  ASSERT_TRUE(Pull(b, &pulled).ok());
  EXPECT_EQ(pulled.orders_size(), 0);
  offboard::v1::SubmitAttestationResponse response;
  // B signs with its own key, or even with a stolen copy of A's key: refused.
  EXPECT_EQ(Submit(b, order.order_id, Attestation(order, b.attestation_key), &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Submit(b, order.order_id, Attestation(order, a.attestation_key), &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A's own attestation signed by a key that is not A's enrolled one.
  EXPECT_EQ(Submit(a, order.order_id, Attestation(order, b.attestation_key), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A nonce from another order.
  OrderRow wrong = order;
  wrong.nonce_hex = std::string(64, 'f');
  EXPECT_EQ(Submit(a, order.order_id, Attestation(wrong, a.attestation_key), &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Submit(a, order.order_id, Attestation(order, a.attestation_key), &response).ok());
}

TEST_F(ControllerServerTest, RefusesMalformedAndOversizedMessages) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  const OrderRow order = IssueOrder(agent, "vendor-a");
  offboard::v1::SubmitAttestationResponse response;
  EXPECT_EQ(Submit(agent, order.order_id, "{not json", &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Submit(agent, order.order_id, std::string(2 << 20, 'x'), &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Submit(agent, "no-such-order", "{}", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Submit(agent, order.order_id, Attestation(order, agent.attestation_key), &response).ok());
}

TEST_F(ControllerServerTest, DecommissionBansTheCallerAndOnlyTheCaller) {
  Agent a = MustEnroll("vendor-a", "host-1");
  Agent b = MustEnroll("vendor-b", "host-9");
  const OrderRow order = IssueOrder(a, "vendor-a");
  offboard::v1::DecommissionResponse response;
  // Vendor B's agent cannot ban A by naming it: its certificate says who it is.
  EXPECT_EQ(Decommission(b, a.agent_id, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Decommission(b, "", &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(Banned(a));
  EXPECT_FALSE(Banned(b));
  // Nor without a certificate at all.
  Agent anonymous = a;
  anonymous.certificate_pem.clear();
  anonymous.tls.private_key_pem.clear();
  EXPECT_EQ(Decommission(anonymous, a.agent_id, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(Banned(a));

  // B decommissions itself: banned now, and its certificate opens nothing more.
  grpc::Status status = Decommission(b, b.agent_id, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.agent_id(), b.agent_id);
  EXPECT_EQ(response.banned_at().seconds(), kNow);
  EXPECT_FALSE(response.already_banned());
  EXPECT_TRUE(Banned(b));
  EXPECT_FALSE(Banned(a));
  offboard::v1::PullOrdersResponse pulled;
  EXPECT_EQ(Pull(b, &pulled).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Pull(a, &pulled).ok());
  EXPECT_EQ(pulled.orders_size(), 1);

  // Asked again (an agent that crashed before it heard the answer): the same
  // time, marked as a repeat.
  offboard::v1::DecommissionResponse again;
  status = Decommission(b, b.agent_id, &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(again.already_banned());
  EXPECT_EQ(again.banned_at().seconds(), kNow);

  // A decommissioned A can no longer attest either.
  ASSERT_TRUE(Decommission(a, a.agent_id, &response).ok());
  offboard::v1::SubmitAttestationResponse receipt;
  EXPECT_EQ(Submit(a, order.order_id, Attestation(order, a.attestation_key), &receipt).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  offboard::v1::HeartbeatRequest beat;
  beat.set_order_id(order.order_id);
  offboard::v1::HeartbeatResponse beat_response;
  grpc::ClientContext context;
  EXPECT_EQ(offboard::v1::OrderService::NewStub(Channel(a.tls.private_key_pem, a.certificate_pem))
                ->Heartbeat(&context, beat, &beat_response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ControllerServerTest, DecommissionRefusesACertificateThatDisagreesWithTheEnrollment) {
  Agent a = MustEnroll("vendor-a", "host-1");
  offboard::v1::DecommissionRequest request;
  request.set_agent_id(a.agent_id);
  // A's agent id under another vendor or host (as a certificate could say it).
  for (const common::AgentIdentity& caller :
       {common::AgentIdentity{"vendor-b", "host-1", a.agent_id},
        common::AgentIdentity{"vendor-a", "host-2", a.agent_id}}) {
    EXPECT_EQ(DecommissionAgent(*home_->store, caller, request, kNow).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  request.set_agent_id("agent-never-enrolled");
  EXPECT_EQ(DecommissionAgent(*home_->store, {"vendor-a", "host-1", "agent-never-enrolled"},
                              request, kNow)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(Banned(a));
}

}  // namespace
}  // namespace offboard::controller
