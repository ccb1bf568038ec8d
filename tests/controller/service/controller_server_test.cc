// The controller's gRPC server over real TLS on loopback: an agent enrolls
// with a token, pulls only its own orders and attests to them; the receipt's
// inclusion proof verifies against the signed tree head. Refused: no client
// certificate, a certificate from another CA, a reused token, another
// vendor's agent, a forged or replayed-with-changes attestation, an oversized
// message — and the server keeps serving after each. Decommission bans the
// caller only, answers a repeat, and a banned certificate opens nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/tls/x509.h"
#include "controller/ca/certificate_builder.h"
#include "tests/controller/service/controller_server_fixture.h"

namespace offboard::controller {
namespace {

using ::testing::HasSubstr;
using testing_support::Agent;
using testing_support::ControllerServerTest;
using testing_support::kNow;

TEST_F(ControllerServerTest, EnrollPullAttestAndVerifyTheReceipt) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  EXPECT_FALSE(agent.certificate_pem.empty());
  const OrderRow order = IssueOrder(agent, "vendor-a");

  offboard::v1::PullOrdersResponse pulled;
  ASSERT_TRUE(Pull(agent, &pulled).ok());
  ASSERT_EQ(pulled.orders_size(), 1);
  const auto verified =
      common::VerifyWipeOrder(pulled.orders(0).envelope(), home_->key.PublicKey(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.status();

  const std::string envelope = Attestation(order, agent.attestation_key);
  offboard::v1::SubmitAttestationResponse response;
  const grpc::Status status = Submit(agent, order.order_id, envelope, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const offboard::v1::Receipt& receipt = response.receipt();
  EXPECT_EQ(receipt.log_index(), 0u);
  const auto head = common::VerifyReceipt(receipt, envelope, home_->key.PublicKey());
  EXPECT_TRUE(head.ok()) << head.status();

  // The same envelope again: the same receipt; another one: refused.
  offboard::v1::SubmitAttestationResponse again;
  ASSERT_TRUE(Submit(agent, order.order_id, envelope, &again).ok());
  EXPECT_EQ(again.receipt().log_index(), 0u);
  EXPECT_EQ(
      Submit(agent, order.order_id, Attestation(order, agent.attestation_key, "other"), &again)
          .error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
}

// An attestation too large for one message comes in parts: each gets its
// own receipt, and the order counts as answered once all parts are stored.
TEST_F(ControllerServerTest, AcceptsAnAttestationInPartsOfOneRun) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  const OrderRow order = IssueOrder(agent, "vendor-a");
  const auto part = [&](const std::string& run, uint32_t index, uint32_t count,
                        const std::string& extra = "") {
    return AttestationPart(order, agent.attestation_key, run, {{"index", index}, {"count", count}},
                           extra);
  };
  const auto answered = [&] { return *home_->store->AnsweredOrders(order.contract_id); };
  offboard::v1::SubmitAttestationResponse second;
  ASSERT_TRUE(Submit(agent, order.order_id, part("run-1", 2, 2), &second).ok());
  EXPECT_TRUE(
      common::VerifyReceipt(second.receipt(), part("run-1", 2, 2), home_->key.PublicKey()).ok());
  EXPECT_TRUE(answered().empty());

  offboard::v1::SubmitAttestationResponse response;
  EXPECT_EQ(Submit(agent, order.order_id, part("run-2", 1, 2), &response).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Submit(agent, order.order_id, part("run-1", 1, 3), &response).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Submit(agent, order.order_id, part("run-1", 2, 2, "other"), &response).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Submit(agent, order.order_id, part("", 1, 2), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Submit(agent, order.order_id, part("run-1", 3, 2), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const std::string empty =
      Attestation(order, agent.attestation_key, "",
                  {{"run_id", "run-1"}, {"part", {{"index", 1}, {"count", 2}}}});
  EXPECT_EQ(Submit(agent, order.order_id, empty, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  offboard::v1::SubmitAttestationResponse first;
  ASSERT_TRUE(Submit(agent, order.order_id, part("run-1", 1, 2), &first).ok());
  EXPECT_EQ(first.receipt().log_index(), 1u);
  EXPECT_EQ(answered(), std::vector<std::string>{order.order_id});
  offboard::v1::SubmitAttestationResponse again;
  ASSERT_TRUE(Submit(agent, order.order_id, part("run-1", 2, 2), &again).ok());
  EXPECT_EQ(again.receipt().log_index(), 0u);
}

// An agent that lost its receipt (a crash, a timeout) sends the stored
// attestation again after the order expired: it gets the same receipt, not
// a refusal that would turn a complete contract into a discrepancy. A new
// attestation after expiry is still refused.
TEST_F(ControllerServerTest, AResendAfterExpiryGetsTheStoredReceipt) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  const OrderRow order = IssueOrder(agent, "vendor-a", kNow + 600);
  const OrderRow late = IssueOrder(agent, "vendor-a", kNow + 600);
  const std::string envelope = Attestation(order, agent.attestation_key);
  offboard::v1::SubmitAttestationResponse first;
  ASSERT_TRUE(Submit(agent, order.order_id, envelope, &first).ok());

  now_ = kNow + 7200;
  offboard::v1::SubmitAttestationResponse again;
  const grpc::Status resent = Submit(agent, order.order_id, envelope, &again);
  ASSERT_TRUE(resent.ok()) << resent.error_message();
  EXPECT_EQ(again.receipt().SerializeAsString(), first.receipt().SerializeAsString());
  EXPECT_EQ(
      Submit(agent, late.order_id, Attestation(late, agent.attestation_key), &again).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(
      Submit(agent, order.order_id, Attestation(order, agent.attestation_key, "other"), &again)
          .error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(home_->store->RefusalsForContract("c-vendor-a")->size() == 2u);
}

// A run that began before the deadline and finished after it (the agent
// crashed and resumed) is accepted late; one that claims a start after the
// deadline is refused.
TEST_F(ControllerServerTest, ARunBegunBeforeTheDeadlineIsAcceptedLate) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  const OrderRow order = IssueOrder(agent, "vendor-a", kNow + 600);
  const OrderRow other = IssueOrder(agent, "vendor-a", kNow + 600);
  const auto started = [&](const OrderRow& row, int64_t at) {
    common::InTotoStatement statement;
    statement.predicate_type = std::string(common::kDeletionPredicateType);
    statement.subjects.push_back({.name = "a.csv", .digest = {{"sha256", std::string(64, 'a')}}});
    statement.predicate = {
        {"order_id", row.order_id},
        {"nonce", row.nonce_hex},
        {"started_at", google::protobuf::util::TimeUtil::ToString(
                           google::protobuf::util::TimeUtil::SecondsToTimestamp(at))},
        {"items", nlohmann::json::array()}};
    return common::SerializeDsseEnvelope(common::SignDsse(
        common::kInTotoPayloadType, common::SerializeStatement(statement), agent.attestation_key));
  };
  now_ = kNow + 7200;
  offboard::v1::SubmitAttestationResponse response;
  const grpc::Status late = Submit(agent, order.order_id, started(order, kNow + 10), &response);
  EXPECT_TRUE(late.ok()) << late.error_message();
  EXPECT_EQ(Submit(agent, other.order_id, started(other, kNow + 601), &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
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
      other_ca
          .SignAgentCsr(agent.tls.csr_pem, {"vendor-a", "host-1", agent.agent_id}, 30,
                        std::time(nullptr))
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
  const auto ca_key =
      *common::ParsePrivateKeyPem(*common::ReadFileToString(home_->paths.CaDir() / "ca-key.pem"));
  const auto csr = *common::ParseCsrPem(agent.tls.csr_pem);
  auto builder = *CertificateBuilder::Start(X509_REQ_get0_pubkey(csr.get()));
  ASSERT_TRUE(builder.AddSubjectEntry(NID_commonName, agent.agent_id).ok());
  const std::time_t now = std::time(nullptr);
  ASSERT_TRUE(builder.SetValidity(now - 10 * 86400, now - 86400).ok());
  ASSERT_TRUE(builder
                  .AddSubjectAltNames(
                      {{GEN_URI, common::AgentIdentityUri({"vendor-a", "host-1", agent.agent_id})}})
                  .ok());
  const auto expired = builder.Sign(ca_cert.get(), ca_key.get());
  ASSERT_TRUE(expired.ok()) << expired.status();
  Agent stale = agent;
  stale.certificate_pem = common::CertificateToPem(expired->get());
  offboard::v1::PullOrdersResponse pulled;
  EXPECT_NE(Pull(stale, &pulled).error_code(), grpc::StatusCode::OK);
  EXPECT_TRUE(Pull(agent, &pulled).ok());
}

// A connection TLS accepted may outlive its certificate: each call is
// checked against the server's clock, so nothing is accepted after the
// certificate's notAfter (the verifier holds every attestation to it). The
// server's clock moves here; TLS, on the real one, still lets the call in.
TEST_F(ControllerServerTest, RefusesACallAfterTheCertificateExpiredByTheServersClock) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  const OrderRow order = IssueOrder(agent, "vendor-a", kNow + 500 * 86400);
  offboard::v1::PullOrdersResponse pulled;
  ASSERT_TRUE(Pull(agent, &pulled).ok());
  now_ = kNow + 398 * 86400;  // agent certificates are valid for 397 days
  EXPECT_EQ(Pull(agent, &pulled).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  offboard::v1::SubmitAttestationResponse response;
  const grpc::Status late =
      Submit(agent, order.order_id, Attestation(order, agent.attestation_key), &response);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(late.error_message(), HasSubstr("is not valid now"));
  EXPECT_EQ(*home_->store->LogSize(), 0u);
}

// A controller whose clock was set back since `terminate` would log an
// attestation accepted before its order was issued, which no evidence
// package could carry: it refuses, and the agent retries later.
TEST_F(ControllerServerTest, AClockSetBackBehindTheOrderRefusesForNow) {
  Agent agent = MustEnroll("vendor-a", "host-1");
  const OrderRow order = IssueOrder(agent, "vendor-a");  // issued at kNow
  now_ = kNow - 60;
  offboard::v1::SubmitAttestationResponse response;
  const std::string envelope = Attestation(order, agent.attestation_key);
  const grpc::Status early = Submit(agent, order.order_id, envelope, &response);
  EXPECT_EQ(early.error_code(), grpc::StatusCode::UNAVAILABLE) << early.error_message();
  EXPECT_THAT(early.error_message(), HasSubstr("its clock was set back"));
  EXPECT_EQ(*home_->store->LogSize(), 0u);
  now_ = kNow;
  EXPECT_TRUE(Submit(agent, order.order_id, envelope, &response).ok());
}

TEST_F(ControllerServerTest, ATokenIsSpentOnce) {
  const std::string token = Token("vendor-a", "host-1");
  Agent first, second;
  ASSERT_TRUE(Enroll(token, first).ok());
  EXPECT_EQ(Enroll(token, second).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Enroll("never-issued", second).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// A token stored for a vendor id no certificate can name (an older
// controller, or a row written by hand): enrolling with it fails and leaves
// no enrollment behind that `terminate` would send an order to.
TEST_F(ControllerServerTest, AnEnrollmentWithoutACertificateIsNeverStored) {
  const std::string token = Token(std::string(65, 'v'), "host-1");
  Agent agent;
  EXPECT_EQ(Enroll(token, agent).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  absl::StatusOr<std::vector<Enrollment>> enrollments = home_->store->ListEnrollments("");
  ASSERT_TRUE(enrollments.ok());
  EXPECT_TRUE(enrollments->empty());
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
  EXPECT_EQ(
      Submit(b, order.order_id, Attestation(order, b.attestation_key), &response).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(
      Submit(b, order.order_id, Attestation(order, a.attestation_key), &response).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // A's own attestation signed by a key that is not A's enrolled one.
  EXPECT_EQ(
      Submit(a, order.order_id, Attestation(order, b.attestation_key), &response).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  // A nonce from another order.
  OrderRow wrong = order;
  wrong.nonce_hex = std::string(64, 'f');
  EXPECT_EQ(
      Submit(a, order.order_id, Attestation(wrong, a.attestation_key), &response).error_code(),
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
  EXPECT_TRUE(
      Submit(agent, order.order_id, Attestation(order, agent.attestation_key), &response).ok());
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
