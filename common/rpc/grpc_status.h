// Conversions between absl::Status and grpc::Status.
//
// absl's canonical codes equal gRPC's, so a status crosses the wire with a
// cast: handlers return ToGrpcStatus(DoTheWork(request)), clients turn what
// they receive back with FromGrpcStatus. Thread-safe.
#ifndef OFFBOARD_COMMON_RPC_GRPC_STATUS_H_
#define OFFBOARD_COMMON_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace offboard::common {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RPC_GRPC_STATUS_H_
