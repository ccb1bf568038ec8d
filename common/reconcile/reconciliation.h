// What reconciliation concludes for one contract: the state of every
// inventory file, the copies nobody expected, the orders still open, and the
// verdict of INTERFACE.md ("status --json").
//
// Reconciler (reconciler.h) produces a Reconciliation; reconciliation_report.h
// renders it as JSON, as a table for a person, and as CSV for evidence. The
// enum names below are the strings of INTERFACE.md and of the deletion
// predicate that agents sign; they are fixed.
//
// Plain data and pure functions: thread-compatible.
#ifndef OFFBOARD_COMMON_RECONCILE_RECONCILIATION_H_
#define OFFBOARD_COMMON_RECONCILE_RECONCILIATION_H_

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace offboard::common {

// The state of one inventory file across every attestation of its contract,
// from the most serious down: a copy still found after the wipe, a wipe that
// failed, a copy found but not wiped (needs review, skipped), every copy
// wiped, vouched for only by a vendor officer, or no copy reported at all.
enum class FileState { kResidual, kFailed, kFoundNotWiped, kWiped, kSelfAttested, kNotFound };
inline constexpr int kFileStateCount = 6;

// "residual" | "failed" | "found_not_wiped" | "wiped" | "self_attested" | "not_found".
const char* FileStateName(FileState state);

// What a deletion really achieved, strongest first: the three levels an
// agent's wipe reaches (agent/wipe/storage_probe.h says when), then a vendor
// officer's word, which is weakest of all.
enum class Assurance { kOverwriteVerified, kOverwriteFlash, kLogicalOnly, kSelfAttested };

// "overwrite_verified" | "overwrite_flash" | "logical_only" | "self_attested".
const char* AssuranceName(Assurance assurance);
// The inverse for the three levels an agent may claim (not "self_attested");
// nullopt for anything else.
std::optional<Assurance> ParseAgentAssurance(absl::string_view name);

// The weaker of two assurances (nullopt counts as "nothing yet").
std::optional<Assurance> Weaker(std::optional<Assurance> a, std::optional<Assurance> b);

// An item's "status" in the deletion predicate.
enum class CopyStatus { kWiped, kFailed, kNeedsReview, kSkipped, kResidual };
const char* CopyStatusName(CopyStatus status);
std::optional<CopyStatus> ParseCopyStatus(absl::string_view name);

enum class Verdict { kVerifiedComplete, kIncomplete, kDiscrepancy };
// "verified_complete" | "incomplete" | "discrepancy".
const char* VerdictName(Verdict verdict);

// One inventory file of the contract and what became of it.
struct FileResult {
  std::string dataset_id;
  std::string sha256;  // lowercase hex, as in the inventory
  std::string path;    // the name as delivered (copies may have other names)
  FileState state = FileState::kNotFound;
  // Items of accepted attestations holding this content (archive members and
  // derived files whose digest equals it included), each location once.
  uint32_t copies = 0;
  // kWiped: the weakest assurance among its wiped copies; kSelfAttested:
  // Assurance::kSelfAttested; otherwise nullopt.
  std::optional<Assurance> assurance = std::nullopt;
};

// A copy that an agent reported whose content is no inventory file of the
// contract: a derived copy (its digest is of the derived file), a tagged file
// whose content changed, an item without a content digest. It is "left in
// place" unless its status is wiped, and that is a discrepancy.
struct UnexpectedCopy {
  std::string host_id;
  std::string order_id;
  std::string path;                 // on the vendor host, lossy UTF-8 as attested
  std::vector<std::string> member;  // archive member chain, empty for a plain file
  std::string dataset_id;
  std::string sha256;  // may be empty: derived text that was never hashed
  std::string match;   // "exact" | "archive" | "derived" | "tag"
  CopyStatus status = CopyStatus::kFailed;
  std::optional<Assurance> assurance;  // as attested
  std::string reason;                  // the agent's, if any

  bool left_in_place() const { return status != CopyStatus::kWiped; }
};

// An enrolled host of one of the contract's vendors.
struct HostRef {
  std::string vendor_id;
  std::string host_id;
  auto operator<=>(const HostRef&) const = default;
};

struct Reconciliation {
  std::string contract_id;
  Verdict verdict = Verdict::kIncomplete;
  // Weakest assurance among wiped and self-attested files and wiped
  // unexpected copies; nullopt if none.
  std::optional<Assurance> assurance_floor;
  std::vector<FileResult> files;  // in the order the inventory was supplied
  std::vector<UnexpectedCopy> unexpected;
  std::vector<std::string> unanswered_orders;  // order ids, as supplied
  std::vector<std::string> overdue_orders;     // the unanswered ones past expiry
  // Unanswered orders whose host answered an order issued later, and which
  // expired or went to an agent since replaced: listed, not outstanding.
  std::vector<std::string> superseded_orders;
  // Enrolled hosts of the contract's vendors that no order was issued to (a
  // host enrolled after `terminate`): nothing was asked of them yet.
  std::vector<HostRef> hosts_without_order;
  // Signed attestation envelopes accepted. An attestation too large for one
  // message travels in parts, each its own envelope, so one wipe run may
  // count several times here; accepted_runs counts it once.
  uint64_t accepted_attestations = 0;
  // The wipe runs those envelopes belong to (distinct order and run id). Not
  // in the JSON: packages already exported are recomputed byte for byte.
  uint64_t accepted_runs = 0;
  uint64_t refused_attestations = 0;
  uint64_t self_attestations = 0;
  // Places the attestations' scans after the wipe could not examine
  // (encrypted, corrupt, unreadable, over a limit): no absence is proven there.
  uint64_t unexamined_after_wipe = 0;
  std::array<uint64_t, kFileStateCount> file_counts{};  // indexed by FileState
  uint64_t unexpected_left_in_place = 0;
  // Why the verdict is not verified_complete, most serious first, one short
  // sentence each ("3 files failed"); empty when it is.
  std::vector<std::string> reasons;

  uint64_t count(FileState state) const { return file_counts[static_cast<int>(state)]; }
};

// Fills verdict, assurance_floor, file_counts, unexpected_left_in_place and
// reasons from the other fields, by the rules of INTERFACE.md:
//   discrepancy: a file failed, found_not_wiped or residual, an unexpected
//     copy left in place, or a refused attestation;
//   incomplete: otherwise, a file not_found, an order unanswered, an
//     enrolled host without an order, or a place the scan after a wipe could
//     not examine;
//   verified_complete: otherwise.
void DecideVerdict(Reconciliation& reconciliation);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RECONCILE_RECONCILIATION_H_
