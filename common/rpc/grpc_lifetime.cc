#include "common/rpc/grpc_lifetime.h"

#include <grpc/grpc.h>

#include <atomic>
#include <mutex>

namespace offboard::common {
namespace {

std::atomic<bool> held{false};

}  // namespace

void KeepGrpcUntilExit() {
  static std::once_flag once;
  std::call_once(once, [] {
    grpc_init();
    held = true;
  });
}

void FinishGrpc() {
  // On a thread of the program's own, the last grpc_shutdown cleans up before
  // it returns. While another reference is held (a channel still alive), the
  // cleanup is left to that object's end.
  if (held.exchange(false)) grpc_shutdown();
}

}  // namespace offboard::common
