// Holds gRPC's global state for the life of a program, and lets the program
// wait for gRPC's threads before it exits.
//
// When the last channel or server of a process goes away, gRPC 1.51 tears its
// global state down on a detached thread. A program that returns from main
// right then (a refused `enroll`, a test after its server stopped) exits while
// that thread is half way through freeing TLS state, and LeakSanitizer reports
// the half that is no longer reachable. Holding one reference keeps that state
// reachable from gRPC's globals.
//
// Holding it until exit is not enough for a program that just closed a TLS
// connection: gRPC's threads may still be closing it while exit() runs
// OpenSSL's own cleanup, and what they free half way is lost. So a program's
// main ends with FinishGrpc(), which releases the reference on the main
// thread, where gRPC 1.51 shuts down synchronously: it joins its timer and
// executor threads and waits, up to 10 s, for its I/O objects to be freed.
// (Its EventEngine threads are detached; they are not waited for.)
//
//   common::KeepGrpcUntilExit();   // before the first channel or server
//   ...                            // every channel and server destroyed
//   common::FinishGrpc();          // at the end of main
//
// Call KeepGrpcUntilExit after any signal mask is set: the first call starts
// gRPC's threads, which inherit the calling thread's mask. Thread-safe; later
// calls do nothing. FinishGrpc does nothing when KeepGrpcUntilExit never ran,
// and nothing on a second call.
#ifndef OFFBOARD_COMMON_RPC_GRPC_LIFETIME_H_
#define OFFBOARD_COMMON_RPC_GRPC_LIFETIME_H_

namespace offboard::common {

void KeepGrpcUntilExit();

// Call from the main thread, with no gRPC object left.
void FinishGrpc();

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RPC_GRPC_LIFETIME_H_
