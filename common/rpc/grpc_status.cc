#include "common/rpc/grpc_status.h"

#include <string>

namespace offboard::common {

// The two enums share their numbering (both follow google.rpc.Code); the
// static_asserts keep that assumption checked at compile time.
static_assert(static_cast<int>(absl::StatusCode::kPermissionDenied) ==
              static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
static_assert(static_cast<int>(absl::StatusCode::kDataLoss) ==
              static_cast<int>(grpc::StatusCode::DATA_LOSS));

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace offboard::common
