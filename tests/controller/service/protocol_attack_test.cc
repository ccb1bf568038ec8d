// Protocol attacks against a controller serving over real mTLS on loopback:
// each is refused with its own gRPC status code and leaves an audit event
// naming it (all but an oversized message, which gRPC refuses before any of
// our code runs), and after each one an agent of another vendor is still
// served. A certificate from another CA, an expired one and a banned agent
// are refused in controller_server_test.
// Then the same attacks run from several threads while honest agents submit,
// and every honest submission gets its receipt.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/log/audit.h"
#include "controller/ca/certificate_authority.h"
#include "tests/controller/service/controller_server_fixture.h"

namespace offboard::controller {
namespace {

using testing_support::Agent;
using testing_support::ControllerServerTest;
using testing_support::kNow;

struct Attack {
  std::string name;
  std::function<grpc::Status()> run;
  grpc::StatusCode code;
  // Substrings that one audit line recorded during the attack must all hold;
  // empty for the one attack that cannot be audited.
  std::vector<std::string> audit;
};

class ProtocolAttackTest : public ControllerServerTest {
 protected:
  void SetUp() override {
    ControllerServerTest::SetUp();
    observer_ = std::make_unique<common::ScopedAuditObserver>([this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(audit_mutex_);
      audit_.emplace_back(line);
    });
  }

  std::vector<std::string> TakeAudit() {
    std::lock_guard<std::mutex> lock(audit_mutex_);
    return std::exchange(audit_, {});
  }

  // A fresh order for `agent`, attested honestly: must get a receipt.
  grpc::Status Honest(const Agent& agent, const std::string& vendor) {
    const OrderRow order = IssueOrder(agent, vendor);
    offboard::v1::SubmitAttestationResponse response;
    return Submit(agent, order.order_id, Attestation(order, agent.attestation_key), &response);
  }

  // Sends raw bytes as the request of AttestationService.Submit.
  grpc::Status SubmitRawBytes(const Agent& agent, const std::string& bytes) {
    grpc::GenericStub stub(Channel(agent.tls.private_key_pem, agent.certificate_pem));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext context;
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    grpc::Status status;
    stub.UnaryCall(&context, "/offboard.v1.AttestationService/Submit", {}, &request, &response,
                   [&](grpc::Status s) {
                     std::lock_guard<std::mutex> lock(mutex);
                     status = std::move(s);
                     done = true;
                     done_cv.notify_one();
                   });
    std::unique_lock<std::mutex> lock(mutex);
    done_cv.wait(lock, [&] { return done; });
    return status;
  }

  std::vector<Attack> Attacks(const Agent& a, const Agent& a2, const Agent& b) {
    std::vector<Attack> attacks;
    const auto refused = [](const std::string& code) {
      return std::vector<std::string>{"event=attestation_refused", "code=" + code};
    };
    attacks.push_back(
        {"tampered signature",
         [=, this] {
           const OrderRow order = IssueOrder(a, "vendor-a");
           auto envelope = *common::ParseDsseEnvelope(Attestation(order, a.attestation_key));
           envelope.signatures[0].sig[7] ^= 0x01;
           offboard::v1::SubmitAttestationResponse response;
           return Submit(a, order.order_id, common::SerializeDsseEnvelope(envelope), &response);
         },
         grpc::StatusCode::UNAUTHENTICATED, refused("UNAUTHENTICATED")});
    attacks.push_back(
        {"tampered payload",
         [=, this] {
           const OrderRow order = IssueOrder(a, "vendor-a");
           auto envelope = *common::ParseDsseEnvelope(Attestation(order, a.attestation_key));
           envelope.payload.back() = ' ';
           offboard::v1::SubmitAttestationResponse response;
           return Submit(a, order.order_id, common::SerializeDsseEnvelope(envelope), &response);
         },
         grpc::StatusCode::UNAUTHENTICATED, refused("UNAUTHENTICATED")});
    attacks.push_back({"signed with a key that is not the enrolled one",
                       [=, this] {
                         const OrderRow order = IssueOrder(a, "vendor-a");
                         const auto stranger = *common::Ed25519PrivateKey::Generate();
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a, order.order_id, Attestation(order, stranger), &response);
                       },
                       grpc::StatusCode::UNAUTHENTICATED, refused("UNAUTHENTICATED")});
    attacks.push_back({"another vendor's agent sends an agent's own envelope",
                       [=, this] {
                         const OrderRow order = IssueOrder(a, "vendor-a");
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(b, order.order_id, Attestation(order, a.attestation_key),
                                       &response);
                       },
                       grpc::StatusCode::PERMISSION_DENIED, refused("PERMISSION_DENIED")});
    attacks.push_back({"the same vendor's other host attests for this host",
                       [=, this] {
                         const OrderRow order = IssueOrder(a, "vendor-a");
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a2, order.order_id, Attestation(order, a2.attestation_key),
                                       &response);
                       },
                       grpc::StatusCode::PERMISSION_DENIED, refused("PERMISSION_DENIED")});
    attacks.push_back({"an attestation replayed against another order",
                       [=, this] {
                         const OrderRow first = IssueOrder(a, "vendor-a");
                         const OrderRow second = IssueOrder(a, "vendor-a");
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a, second.order_id, Attestation(first, a.attestation_key),
                                       &response);
                       },
                       grpc::StatusCode::PERMISSION_DENIED, refused("PERMISSION_DENIED")});
    attacks.push_back(
        {"a second, different attestation for a used order and nonce",
         [=, this] {
           const OrderRow order = IssueOrder(a, "vendor-a");
           offboard::v1::SubmitAttestationResponse response;
           EXPECT_TRUE(
               Submit(a, order.order_id, Attestation(order, a.attestation_key), &response).ok());
           TakeAudit();
           return Submit(a, order.order_id, Attestation(order, a.attestation_key, "again"),
                         &response);
         },
         grpc::StatusCode::ALREADY_EXISTS, refused("ALREADY_EXISTS")});
    attacks.push_back({"an expired order",
                       [=, this] {
                         const OrderRow order = IssueOrder(a, "vendor-a", kNow - 1);
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a, order.order_id, Attestation(order, a.attestation_key),
                                       &response);
                       },
                       grpc::StatusCode::FAILED_PRECONDITION, refused("FAILED_PRECONDITION")});
    attacks.push_back({"an order that does not exist",
                       [=, this] {
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a, "order-invented", "{}", &response);
                       },
                       grpc::StatusCode::NOT_FOUND,
                       {"event=attestation_refused", "reason=\"unknown order\""}});
    attacks.push_back({"a reused enrollment token",
                       [=, this] {
                         const std::string token = Token("vendor-a", "host-7");
                         Agent first, second;
                         EXPECT_TRUE(Enroll(token, first).ok());
                         TakeAudit();
                         return Enroll(token, second);
                       },
                       grpc::StatusCode::PERMISSION_DENIED,
                       {"event=enrollment_refused", "unknown, used or expired"}});
    attacks.push_back({"no client certificate",
                       [=, this] {
                         Agent anonymous = a;
                         anonymous.certificate_pem.clear();
                         anonymous.tls.private_key_pem.clear();
                         const OrderRow order = IssueOrder(a, "vendor-a");
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(anonymous, order.order_id,
                                       Attestation(order, a.attestation_key), &response);
                       },
                       grpc::StatusCode::UNAUTHENTICATED,
                       {"event=rpc_refused", "rpc=Submit"}});
    attacks.push_back({"malformed envelope JSON",
                       [=, this] {
                         const OrderRow order = IssueOrder(a, "vendor-a");
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a, order.order_id, "{\"payload\": [", &response);
                       },
                       grpc::StatusCode::INVALID_ARGUMENT, refused("INVALID_ARGUMENT")});
    attacks.push_back({"an attestation whose items reconciliation cannot read",
                       [=, this] {
                         const OrderRow order = IssueOrder(a, "vendor-a");
                         common::InTotoStatement statement;
                         statement.predicate_type = std::string(common::kDeletionPredicateType);
                         statement.subjects.push_back(
                             {.name = "a.csv", .digest = {{"sha256", std::string(64, 'a')}}});
                         statement.predicate = {{"order_id", order.order_id},
                                                {"nonce", order.nonce_hex},
                                                {"items", {{{"path", 7}}}}};
                         const std::string envelope =
                             common::SerializeDsseEnvelope(common::SignDsse(
                                 common::kInTotoPayloadType, common::SerializeStatement(statement),
                                 a.attestation_key));
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a, order.order_id, envelope, &response);
                       },
                       grpc::StatusCode::INVALID_ARGUMENT, refused("INVALID_ARGUMENT")});
    attacks.push_back(
        {"a statement that gives a key twice (readers disagree which counts)",
         [=, this] {
           const OrderRow order = IssueOrder(a, "vendor-a");
           common::InTotoStatement statement;
           statement.predicate_type = std::string(common::kDeletionPredicateType);
           statement.subjects.push_back(
               {.name = "a.csv", .digest = {{"sha256", std::string(64, 'a')}}});
           statement.predicate = {{"order_id", order.order_id},
                                  {"nonce", order.nonce_hex},
                                  {"items", nlohmann::json::array()}};
           std::string payload = common::SerializeStatement(statement);
           const std::string quoted = "\"items\":[]";
           payload.replace(
               payload.find(quoted), quoted.size(),
               "\"items\":[{\"path\":\"/srv/other.csv\",\"status\":\"wiped\"}],\"items\":[]");
           const std::string envelope = common::SerializeDsseEnvelope(
               common::SignDsse(common::kInTotoPayloadType, payload, a.attestation_key));
           offboard::v1::SubmitAttestationResponse response;
           return Submit(a, order.order_id, envelope, &response);
         },
         grpc::StatusCode::INVALID_ARGUMENT,
         {"event=attestation_refused", "code=INVALID_ARGUMENT",
          "key \\\"items\\\" appears twice"}});
    // Refused inside gRPC's core before any of the server's code sees the
    // call, so there is nothing to audit it (controller/server/refusal_audit.h).
    attacks.push_back({"an oversized message",
                       [=, this] {
                         const OrderRow order = IssueOrder(a, "vendor-a");
                         offboard::v1::SubmitAttestationResponse response;
                         return Submit(a, order.order_id, std::string(2 << 20, 'x'), &response);
                       },
                       grpc::StatusCode::RESOURCE_EXHAUSTED,
                       {}});
    attacks.push_back(
        {"bytes that are no protobuf message",
         [=, this] { return SubmitRawBytes(a, std::string("\xff\xff\xff\xff\x0f garbage", 10)); },
         grpc::StatusCode::INVALID_ARGUMENT,
         {"event=rpc_refused", "rpc=/offboard.v1.AttestationService/Submit",
          "code=INVALID_ARGUMENT"}});
    return attacks;
  }

  std::mutex audit_mutex_;
  std::vector<std::string> audit_;  // guarded by audit_mutex_
  // Last, so that it is gone before what it writes to.
  std::unique_ptr<common::ScopedAuditObserver> observer_;
};

TEST_F(ProtocolAttackTest, EachAttackIsRefusedWithItsCodeAndAuditedAndOthersAreStillServed) {
  const Agent a = MustEnroll("vendor-a", "host-1");
  const Agent a2 = MustEnroll("vendor-a", "host-2");
  const Agent b = MustEnroll("vendor-b", "host-9");
  const Agent bystander = MustEnroll("vendor-c", "host-3");
  for (const Attack& attack : Attacks(a, a2, b)) {
    SCOPED_TRACE(attack.name);
    TakeAudit();
    const grpc::Status status = attack.run();
    EXPECT_EQ(status.error_code(), attack.code) << status.error_message();
    const std::vector<std::string> audit = TakeAudit();
    if (!attack.audit.empty()) {
      const bool recorded = std::any_of(audit.begin(), audit.end(), [&](const std::string& line) {
        return std::all_of(attack.audit.begin(), attack.audit.end(), [&](const std::string& part) {
          return line.find(part) != std::string::npos;
        });
      });
      EXPECT_TRUE(recorded) << "no audit line with " << ::testing::PrintToString(attack.audit)
                            << " among " << ::testing::PrintToString(audit);
    }
    const grpc::Status served = Honest(bystander, "vendor-c");
    EXPECT_TRUE(served.ok()) << "after the attack: " << served.error_message();
  }
}

TEST_F(ProtocolAttackTest, HonestAgentsAreServedWhileAttacksRunConcurrently) {
  const Agent a = MustEnroll("vendor-a", "host-1");
  const Agent a2 = MustEnroll("vendor-a", "host-2");
  const Agent b = MustEnroll("vendor-b", "host-9");
  std::vector<Agent> honest;
  for (int i = 0; i < 3; ++i) honest.push_back(MustEnroll("vendor-h", "host-" + std::to_string(i)));
  // Orders are issued up front: the store is shared with the test thread.
  std::vector<std::vector<OrderRow>> orders(honest.size());
  constexpr int kPerAgent = 8;
  for (size_t i = 0; i < honest.size(); ++i) {
    for (int n = 0; n < kPerAgent; ++n) orders[i].push_back(IssueOrder(honest[i], "vendor-h"));
  }
  const std::vector<Attack> attacks = Attacks(a, a2, b);

  std::atomic<int> receipts{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < honest.size(); ++i) {
    threads.emplace_back([&, i] {
      for (const OrderRow& order : orders[i]) {
        offboard::v1::SubmitAttestationResponse response;
        const grpc::Status status = Submit(
            honest[i], order.order_id, Attestation(order, honest[i].attestation_key), &response);
        EXPECT_TRUE(status.ok()) << status.error_message();
        if (status.ok()) ++receipts;
      }
    });
  }
  // The attacks themselves run on this thread: they issue orders and tokens
  // through the store, as the controller's own commands would.
  for (const Attack& attack : attacks) {
    SCOPED_TRACE(attack.name);
    EXPECT_EQ(attack.run().error_code(), attack.code);
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(receipts.load(), static_cast<int>(honest.size()) * kPerAgent);
}

}  // namespace
}  // namespace offboard::controller
