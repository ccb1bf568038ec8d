#include "controller/intake/attestation_intake.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/ed25519.h"
#include "common/dsse/envelope.h"
#include "common/encoding/rfc3339.h"
#include "common/intoto/statement.h"
#include "common/log/audit.h"
#include "common/reconcile/reconciler.h"
#include "common/status/status_macros.h"

namespace offboard::controller {
namespace {

absl::Status Denied(absl::string_view why) { return absl::PermissionDeniedError(why); }

// The store failed (busy, I/O): not the caller's fault and not a denial, so
// the failure keeps its code.
absl::Status CannotRead(const absl::Status& failure, absl::string_view subject,
                        absl::string_view what) {
  return absl::Status(failure.code(),
                      absl::StrCat(subject, ": cannot read the ", what, ": ", failure.message()));
}

bool IsControllerFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<Enrollment> CheckEnrolledCaller(ControllerStore& store,
                                               const common::AgentIdentity& caller) {
  absl::StatusOr<Enrollment> enrollment = store.GetEnrollment(caller.agent_id);
  if (absl::IsNotFound(enrollment.status())) {
    return Denied(absl::StrCat("agent ", caller.agent_id, " is not enrolled"));
  }
  if (!enrollment.ok()) {
    return CannotRead(enrollment.status(), absl::StrCat("agent ", caller.agent_id), "enrollment");
  }
  if (enrollment->banned) return Denied(absl::StrCat("agent ", caller.agent_id, " is banned"));
  if (enrollment->vendor_id != caller.vendor_id || enrollment->host_id != caller.host_id) {
    return Denied(absl::StrCat("agent ", caller.agent_id,
                               ": certificate names another vendor or host than enrolled"));
  }
  return enrollment;
}

absl::StatusOr<offboard::v1::Receipt> AttestationIntake::Accept(
    const common::AgentIdentity& caller, const std::string& order_id,
    const std::string& envelope, int64_t now) {
  absl::StatusOr<OrderRow> order = store_.GetOrder(order_id);
  if (!order.ok()) {
    const bool unknown = absl::IsNotFound(order.status());
    common::AuditEvent("attestation_refused",
                       {{"agent_id", caller.agent_id},
                        {"vendor_id", caller.vendor_id},
                        {"order_id", order_id},
                        {"reason", unknown ? std::string("unknown order")
                                           : std::string(order.status().message())}});
    if (!unknown) return CannotRead(order.status(), absl::StrCat("order ", order_id), "order");
    return absl::NotFoundError(absl::StrCat("order ", order_id, ": not found"));
  }
  absl::StatusOr<offboard::v1::Receipt> receipt = Check(caller, *order, envelope, now);
  if (!receipt.ok()) {
    const std::string reason(receipt.status().message());
    common::AuditEvent("attestation_refused", {{"agent_id", caller.agent_id},
                                               {"vendor_id", caller.vendor_id},
                                               {"order_id", order_id},
                                               {"code", absl::StatusCodeToString(receipt.status().code())},
                                               {"reason", reason}});
    // A refusal counts against the order's contract only when it came from
    // the order's own agent: another vendor probing must not be able to turn
    // a contract's verdict into a discrepancy. A failure of the controller
    // itself (its store unavailable or broken) is no refusal: the agent sends
    // again.
    if (caller.agent_id == order->agent_id && !IsControllerFailure(receipt.status())) {
      (void)store_.PutRefusal({.at = now, .order_id = order_id, .agent_id = caller.agent_id,
                               .reason = reason});
    }
    return receipt.status();
  }
  common::AuditEvent("attestation_accepted", {{"agent_id", caller.agent_id},
                                              {"order_id", order_id},
                                              {"log_index", absl::StrCat(receipt->log_index())}});
  return receipt;
}

absl::StatusOr<offboard::v1::Receipt> AttestationIntake::Check(
    const common::AgentIdentity& caller, const OrderRow& order, const std::string& envelope,
    int64_t now) {
  OFFBOARD_ASSIGN_OR_RETURN(const Enrollment enrollment, CheckEnrolledCaller(store_, caller));
  if (order.agent_id != caller.agent_id || order.vendor_id != caller.vendor_id) {
    return Denied(absl::StrCat("order ", order.order_id, " is not addressed to agent ",
                               caller.agent_id));
  }
  OFFBOARD_ASSIGN_OR_RETURN(
      common::Ed25519PublicKey key,
      enrolled_keys_.Get(enrollment.attestation_public_key_pem, common::Ed25519PublicKey::FromPem));
  common::DsseVerifier verifier({{key.KeyId(), key}}, 1,
                                {std::string(common::kInTotoPayloadType)});
  absl::StatusOr<common::VerifiedPayload> verified = verifier.Verify(envelope);
  if (!verified.ok()) {
    if (absl::IsUnauthenticated(verified.status())) {
      return absl::UnauthenticatedError(absl::StrCat(
          "order ", order.order_id, ": attestation not signed by the enrolled key of agent ",
          caller.agent_id));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("order ", order.order_id, ": ", verified.status().message()));
  }
  // Read in place (simdjson), without building a tree of the predicate.
  thread_local simdjson::dom::parser parser;
  absl::StatusOr<common::InTotoStatementView> statement =
      common::ParseStatementView(verified->payload, parser);
  if (!statement.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("order ", order.order_id, ": ", statement.status().message()));
  }
  if (statement->predicate_type != common::kDeletionPredicateType) {
    return absl::InvalidArgumentError(absl::StrCat("order ", order.order_id, ": predicate type ",
                                                   statement->predicate_type, " is not deletion"));
  }
  const common::SimdView predicate = statement->predicate;
  if (!predicate.is_object() || predicate["order_id"].string() != order.order_id ||
      predicate["nonce"].string() != order.nonce_hex) {
    return Denied(absl::StrCat("order ", order.order_id,
                               ": the attestation does not quote this order's id and nonce"));
  }
  // Items that reconciliation could not read are refused now, not stored to
  // break the contract's status later.
  absl::StatusOr<common::CheckedItems> items =
      common::CheckAttestedItems({.order_id = order.order_id,
                                  .agent_id = caller.agent_id,
                                  .host_id = caller.host_id,
                                  .vendor_id = order.vendor_id},
                                 predicate);
  if (!items.ok()) return absl::InvalidArgumentError(items.status().message());
  // Its parts are told apart, and kept together, by the run.
  const LeafPart part{
      .run_id = std::move(items->run_id), .index = items->part.index, .count = items->part.count};
  if (part.count > 1 && part.run_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("order ", order.order_id, ": an attestation in parts without a run_id"));
  }
  // An agent cuts only what does not fit: a part without an item or an
  // error would only take the log's space.
  if (part.count > 1 && items->copies.empty() && items->unexamined == 0) {
    return absl::InvalidArgumentError(absl::StrCat("order ", order.order_id, ": part ", part.index,
                                                   " of ", part.count, " holds nothing"));
  }
  // The verifier holds every receipt to its order's time: a clock that
  // reads earlier than the order (stepped back since `terminate`) would
  // store an attestation no package could carry.
  if (now < order.issued_at) {
    return absl::UnavailableError(absl::StrCat(
        "order ", order.order_id, " was issued at ", common::UnixToRfc3339(order.issued_at),
        ", later than the controller's clock reads now (", common::UnixToRfc3339(now),
        "): its clock was set back; try again once it is right"));
  }
  if (now > order.expires_at) {
    // A resend of what was stored before the expiry (the agent lost its
    // receipt to a crash or a timeout) gets the stored receipt again: the
    // same envelope, the same answer, whenever it comes.
    absl::StatusOr<AttestationRow> stored =
        store_.AttestationFor(order.order_id, caller.agent_id, part.index);
    if (!stored.ok() && !absl::IsNotFound(stored.status())) {
      return CannotRead(stored.status(), absl::StrCat("order ", order.order_id), "attestations");
    }
    const bool resend = stored.ok() && stored->envelope == envelope;
    // A run the agent began before the deadline and finished after it (it
    // crashed and resumed) is accepted late: its data may be gone, and only
    // this attestation says so. Its start is in the signed predicate.
    if (!resend && !common::RunBeganBy(predicate, order.expires_at)) {
      return absl::FailedPreconditionError(
          absl::StrCat("order ", order.order_id, " expired before the attestation arrived"));
    }
    if (!resend) {
      common::AuditEvent("attestation_late",
                         {{"order_id", order.order_id},
                          {"agent_id", caller.agent_id},
                          {"started_at", std::string(predicate["started_at"].string())}});
    }
  }
  return log_.Append(order.order_id, caller.agent_id, envelope, now, part);
}

}  // namespace offboard::controller
