// The deletion attestation (ARCHITECTURE.md, "Attestation format"): an in-toto
// Statement v1 whose subjects are the destroyed files and members with their
// SHA-256, and whose predicate says — per item — the method, passes,
// verification, assurance reached and storage facts, plus the policy, the
// order it answers (order id and nonce, empty when run standalone), the host,
// the post-wipe scan and, when a person had to approve the plan, who approved
// which plan and when. Signed as a DSSE envelope with the agent's
// attestation key, so that anyone can check it with a standard DSSE verifier.
//
// With nothing destroyed, the one subject is the inventory ("inventory", its
// SHA-256): in-toto requires a subject, and that is what was searched for.
//
// It states only what the items say, and the items say only what the journal
// recorded as completed.
//
//   common::InTotoStatement statement = BuildDeletionStatement(run);
//   common::DsseEnvelope envelope = SignDeletionStatement(statement, key);
//
// Pure functions.
#ifndef OFFBOARD_AGENT_WIPE_DELETION_ATTESTATION_H_
#define OFFBOARD_AGENT_WIPE_DELETION_ATTESTATION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/scan/finding.h"
#include "agent/wipe/wipe_engine.h"
#include "common/crypto/ed25519.h"
#include "common/dsse/envelope.h"
#include "common/intoto/statement.h"
#include "offboard/v1/policy.pb.h"

namespace offboard::agent {

struct HostFacts {
  std::string hostname;
  std::string machine_id;  // /etc/machine-id, empty if absent
  std::string kernel;      // uname -r
};

// Reads the facts of this host; missing facts stay empty.
HostFacts ReadHostFacts();

// A person's approval of the exact plan that was carried out (`offboard-agent
// run --approve-plan`, then `offboard-agent approve`).
struct PlanApproval {
  std::string plan_sha256;  // of the plan document that was approved, byte for byte
  std::string approved_by;
  std::string approved_at;  // RFC 3339, UTC
};

struct DeletionRun {
  std::string run_id;
  std::string order_id;  // empty for a standalone `wipe`
  std::string nonce;     // the order's nonce (hex), empty for standalone
  std::string started_at;   // RFC 3339, UTC
  std::string finished_at;  // RFC 3339, UTC
  std::vector<std::string> roots;
  std::string inventory_sha256;  // of the inventory file searched for
  std::string agent_version;
  std::string agent_key_id;  // hex SHA-256 of the raw public key
  HostFacts host;
  std::vector<WipeItem> items;  // residual items included
  ScanStats post_scan_stats;
  std::vector<ScanError> post_scan_errors;
  std::optional<PlanApproval> approval;  // the predicate's "approval", when there was one
};

// The statement; `policy` is the policy the items were wiped under.
common::InTotoStatement BuildDeletionStatement(const DeletionRun& run,
                                               const offboard::v1::WipePolicy& policy);

// The same statement cut into parts (common/reconcile/attestation_parts.h),
// for an attestation too large for one message: each part holds the run's
// facts, "part": {"index", "count"}, a share of the items (with their
// subjects, "summary" and the post-wipe scan's "residual" counting only
// those) and a share of the post-wipe scan's errors, in their order, and
// serializes to at most about `max_payload_bytes`. One part when all fits.
// RESOURCE_EXHAUSTED when one item, or the run's facts alone, would not fit,
// or more than kMaxAttestationParts parts would be needed.
absl::StatusOr<std::vector<common::InTotoStatement>> BuildDeletionStatementParts(
    const DeletionRun& run, const offboard::v1::WipePolicy& policy, size_t max_payload_bytes);

// The policy as the predicate shows it (name, passes, verification, ...).
nlohmann::json PolicyToJson(const offboard::v1::WipePolicy& policy);

// The current time as RFC 3339 UTC with seconds ("2026-11-26T14:05:01Z").
std::string NowRfc3339();

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_DELETION_ATTESTATION_H_
