// Accepting a deletion attestation from an agent (issue 5, "Attestation
// intake"): the caller's TLS identity, the enrolled attestation key, the
// order and its nonce must all agree before the envelope is logged; anything
// else is refused with a status a gRPC handler passes on as is, recorded as a
// refusal against the order (it counts as a discrepancy in the verdict), and
// written as an audit event.
//
//   OFFBOARD_ASSIGN_OR_RETURN(v1::Receipt receipt,
//       intake.Accept(caller, request.order_id(), request.envelope(), now));
//
// Thread-safe if the store and log are (they are).
#ifndef OFFBOARD_CONTROLLER_INTAKE_ATTESTATION_INTAKE_H_
#define OFFBOARD_CONTROLLER_INTAKE_ATTESTATION_INTAKE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/crypto/ed25519.h"
#include "common/status/parse_memo.h"
#include "common/tls/agent_identity.h"
#include "controller/store/store.h"
#include "controller/tlog/transparency_log.h"
#include "offboard/v1/attestation.pb.h"

namespace offboard::controller {

// The caller's enrollment when it is enrolled, not banned, and its
// certificate names the vendor and host it enrolled with; PERMISSION_DENIED
// saying which otherwise. A store that cannot answer is its own error
// (UNAVAILABLE, INTERNAL), never a denial. Every RPC but Enroll authorizes by
// this.
absl::StatusOr<Enrollment> CheckEnrolledCaller(ControllerStore& store,
                                               const common::AgentIdentity& caller);

class AttestationIntake {
 public:
  AttestationIntake(ControllerStore& store, TransparencyLog& log) : store_(store), log_(log) {}

  // Checks, in order, each failure refused with its code:
  //   PERMISSION_DENIED: the caller is not enrolled, is banned, or its
  //     certificate's vendor/host differ from its enrollment; the order is not
  //     the caller's (another agent's or another vendor's); the nonce or order
  //     id in the statement is not the order's;
  //   NOT_FOUND: no such order (not recorded against any contract);
  //   UNAUTHENTICATED: the envelope is not signed by the caller's enrolled
  //     attestation key;
  //   INVALID_ARGUMENT: not a DSSE in-toto statement of the deletion predicate;
  //   FAILED_PRECONDITION: the order expired before the attestation arrived;
  //   ALREADY_EXISTS: another attestation for this order was accepted before
  //     (another envelope as this part, or parts of another run or count).
  // An attestation in parts (common/reconcile/attestation_parts.h) is
  // accepted part by part, each with its own receipt. The same envelope
  // again returns its original receipt. When the store
  // fails (UNAVAILABLE, INTERNAL, DATA_LOSS...), that error is returned and
  // audited but recorded as no refusal: the attestation was never judged.
  absl::StatusOr<offboard::v1::Receipt> Accept(const common::AgentIdentity& caller,
                                               const std::string& order_id,
                                               const std::string& envelope, int64_t now);

 private:
  absl::StatusOr<offboard::v1::Receipt> Check(const common::AgentIdentity& caller,
                                              const OrderRow& order, const std::string& envelope,
                                              int64_t now);

  ControllerStore& store_;
  TransparencyLog& log_;
  // Enrolled attestation keys by their PEM: decoding a PEM costs more than
  // verifying a signature. A re-enrollment's new PEM is a new entry.
  common::ParseMemo<common::Ed25519PublicKey> enrolled_keys_{4096};
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_INTAKE_ATTESTATION_INTAKE_H_
