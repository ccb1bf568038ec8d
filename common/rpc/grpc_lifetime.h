// Keeps gRPC's global state alive until the process exits.
//
// When the last channel or server of a process goes away, gRPC 1.51 tears its
// global state down on a detached thread. A program that returns from main
// right then (a refused `enroll`, a test after its server stopped) exits while
// that thread is half way through freeing TLS state, and LeakSanitizer reports
// the half that is no longer reachable. Holding one reference for the whole
// process keeps that state reachable from gRPC's globals until exit.
//
//   common::KeepGrpcUntilExit();   // before the first channel or server
//
// Call it after any signal mask is set: the first call starts gRPC's threads,
// which inherit the calling thread's mask. Thread-safe; later calls do nothing.
#ifndef OFFBOARD_COMMON_RPC_GRPC_LIFETIME_H_
#define OFFBOARD_COMMON_RPC_GRPC_LIFETIME_H_

namespace offboard::common {

void KeepGrpcUntilExit();

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RPC_GRPC_LIFETIME_H_
