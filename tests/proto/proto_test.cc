// The v1 protocol: orders and tree heads survive the JSON encoding they are
// signed in, and the generated gRPC services link and serve in process.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <gtest/gtest.h>

#include "offboard/v1/attestation.grpc.pb.h"
#include "offboard/v1/orders.pb.h"

namespace offboard {
namespace {

TEST(ProtoTest, WipeOrderRoundTripsThroughJson) {
  v1::WipeOrder order;
  order.set_order_id("o-1");
  order.set_contract_id("C-1");
  order.set_nonce_hex(std::string(64, 'a'));
  order.mutable_expires_at()->set_seconds(1800000000);
  order.mutable_policy()->set_name("zero-fill");
  order.mutable_policy()->add_passes()->set_pattern(v1::PASS_PATTERN_ZEROS);
  v1::OrderedDataset* dataset = order.add_datasets();
  dataset->set_dataset_id("customers");
  dataset->add_files()->set_size(123);

  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(order, &json).ok());
  EXPECT_NE(json.find("\"nonceHex\""), std::string::npos);
  v1::WipeOrder parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), order.SerializeAsString());

  // Unknown fields in a signed payload are an error, not silently dropped.
  v1::WipeOrder strict;
  EXPECT_FALSE(google::protobuf::util::JsonStringToMessage(R"({"orderId":"o","evil":1})", &strict)
                   .ok());
}

class EchoAttestationService final : public v1::AttestationService::Service {
  grpc::Status Submit(grpc::ServerContext*, const v1::SubmitAttestationRequest* request,
                      v1::SubmitAttestationResponse* response) override {
    // Envelopes are opaque bytes: report how many arrived, byte for byte.
    response->mutable_receipt()->set_log_index(request->envelope().size());
    return grpc::Status::OK;
  }
};

TEST(ProtoTest, AttestationServiceServesOverAnInProcessChannel) {
  EchoAttestationService service;
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::AttestationService::NewStub(server->InProcessChannel(grpc::ChannelArguments()));

  v1::SubmitAttestationRequest request;
  request.set_envelope(std::string("\0\xff{}", 4));
  v1::SubmitAttestationResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub->Submit(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.receipt().log_index(), 4u);
  server->Shutdown();
}

}  // namespace
}  // namespace offboard
