#include "common/rpc/grpc_status.h"

#include <gtest/gtest.h>

namespace offboard::common {
namespace {

TEST(GrpcStatusTest, CodesAndMessagesCrossBothWays) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code),
                              code == 0 ? "" : "order o-1: nonce mismatch");
    const grpc::Status wire = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(wire.error_code()), code);
    EXPECT_EQ(FromGrpcStatus(wire), status);
  }
  EXPECT_EQ(ToGrpcStatus(absl::PermissionDeniedError("vendor B")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace offboard::common
