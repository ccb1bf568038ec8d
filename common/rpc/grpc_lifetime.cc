#include "common/rpc/grpc_lifetime.h"

#include <grpc/grpc.h>

#include <mutex>

namespace offboard::common {

void KeepGrpcUntilExit() {
  static std::once_flag once;
  std::call_once(once, [] { grpc_init(); });  // never matched by grpc_shutdown, on purpose
}

}  // namespace offboard::common
