// One whole wipe run, as `offboard-agent wipe` and `offboard-agent run` do
// it: scan, plan (which a plan gate may hold for a person's approval),
// destroy (journaled, resuming an interrupted run of the same request), scan
// again, mark what is still found as residual, sign the deletion attestation
// with the agent key, and build the report.
//
//   WipeRunRequest request{...};
//   OFFBOARD_ASSIGN_OR_RETURN(WipeRunResult result, ExecuteWipeRun(request));
//
// Call from one thread; the journal's lock keeps a second process out of the
// same data directory.
#ifndef OFFBOARD_AGENT_WIPE_WIPE_RUN_H_
#define OFFBOARD_AGENT_WIPE_WIPE_RUN_H_

#include <boost/filesystem/path.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/scan/derived_matcher.h"
#include "agent/scan/finding.h"
#include "agent/scan/scanner.h"
#include "agent/wipe/deletion_attestation.h"
#include "agent/wipe/wipe_engine.h"
#include "agent/wipe/wipe_plan.h"
#include "offboard/v1/policy.pb.h"

namespace offboard::agent {

// Runs discovery over options.roots (the caller decides how progress shows).
using ScanFunction = std::function<absl::StatusOr<ScanReport>(const ScanOptions& options)>;

// What a plan gate decided about a fresh plan.
struct PlanVerdict {
  bool proceed = true;                   // false: hold the run, touch nothing
  std::optional<PlanApproval> approval;  // journaled, and stated in the attestation
};

// Looks at a fresh run's plan after the first scan and before anything is
// journaled or touched (`run --approve-plan` waits here for a person). An
// error stops the run as it is, with nothing changed.
using PlanGate =
    std::function<absl::StatusOr<PlanVerdict>(const WipePlan& plan, const ScanReport& first_scan)>;

struct WipeRunRequest {
  std::vector<std::string> roots;  // as given; opened and made canonical here
  offboard::v1::WipePolicy policy;
  const FingerprintIndex* fingerprints = nullptr;  // for redaction; may be null
  ScanFunction scan;
  boost::filesystem::path data_dir;  // agent key, journal, attestations
  // Identifies the request: a journal left by an interrupted run is resumed
  // only by a request with the same digest.
  std::string request_digest;
  std::string inventory_sha256;  // of what was searched for
  std::string order_id;          // empty for a standalone wipe
  std::string nonce_hex;         // the order's; empty for a standalone wipe
  std::string agent_version;
  bool cross_filesystems = false;
  unsigned threads = 0;
  // For an order: when the signed attestation is larger than this, it is
  // also written in parts of at most this size each, for delivery
  // (BuildDeletionStatementParts); when it cannot be cut so (one item alone
  // too large), only whole, with an audit event. 0: no limit (a standalone
  // wipe).
  size_t max_envelope_bytes = 0;
  // Null: every plan proceeds. Not consulted when an interrupted run is
  // resumed: that one follows the plan (and approval) it journaled.
  PlanGate plan_gate;
};

struct WipeRunResult {
  std::string run_id;
  bool resumed = false;
  std::vector<WipeItem> items;  // residual ones included
  ScanReport first_scan;
  ScanReport post_scan;
  std::string attestation_path;
  std::string attestation_envelope;  // the DSSE JSON, byte for byte
  // The same attestation in parts, when it is over max_envelope_bytes:
  // their files and envelopes, in part order; empty otherwise. The report's
  // "attestation_parts" lists the files.
  std::vector<std::string> attestation_part_paths;
  std::vector<std::string> attestation_parts;
  nlohmann::ordered_json report;     // INTERFACE.md's wipe report
  // Set when an order's run had finished before (the process died before its
  // attestation was handed on): items and scans are then only in `report`.
  bool replayed = false;
  bool replayed_complete = false;
  // The plan gate held the run: nothing was journaled or touched, and only
  // `first_scan` is set.
  bool held = false;
  // Every item wiped and nothing left unexamined by either scan.
  bool complete() const;
};

// The post-wipe scan's findings that `items` do not already account for, as
// `residual` items. A copy whose item was not wiped (left alone on purpose,
// failed, needs review) is not residual: it never claimed to be gone. Any
// other copy is, even one in the same file as such an item: another member
// of the same archive, or another dataset's data.
std::vector<WipeItem> ResidualItems(const std::vector<WipeItem>& items, const ScanReport& post);

// The scan options a policy's limits give for `roots`.
ScanOptions ScanOptionsFor(const offboard::v1::WipePolicy& policy,
                           const std::vector<std::string>& roots, bool cross_filesystems,
                           unsigned threads);

// Whether `data_dir` holds a run of the request `request_digest`: one that
// was interrupted (the open journal) or one that finished (a kept journal
// with its report). Such a run must be finished or handed out again even
// once its order has expired: data may already be gone, and only its
// attestation says so.
absl::StatusOr<bool> HasRunFor(const boost::filesystem::path& data_dir,
                               const std::string& request_digest);

// For an order (order_id set), a run of the same request that finished
// before is not repeated: its attestation and report are returned again
// (`replayed`), so that a crash between the end of the wipe and the outbox
// cannot turn a wipe into an attestation of nothing left to wipe.
//
// Errors: those of opening the roots (INVALID_ARGUMENT / NOT_FOUND), of the
// agent key and journal (FAILED_PRECONDITION while another wipe holds the
// data directory, or when its unfinished run is for another request), of the
// scans, and of writing the journal or attestation. Items that cannot be
// wiped are not errors: they are items with their status and reason.
absl::StatusOr<WipeRunResult> ExecuteWipeRun(const WipeRunRequest& request);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_WIPE_RUN_H_
