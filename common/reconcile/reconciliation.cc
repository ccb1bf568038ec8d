#include "common/reconcile/reconciliation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace offboard::common {
namespace {

// "1 file failed" / "3 files failed".
std::string Count(uint64_t n, absl::string_view one, absl::string_view many,
                  absl::string_view what) {
  return absl::StrCat(n, " ", n == 1 ? one : many, " ", what);
}

}  // namespace

const char* FileStateName(FileState state) {
  switch (state) {
    case FileState::kResidual:
      return "residual";
    case FileState::kFailed:
      return "failed";
    case FileState::kFoundNotWiped:
      return "found_not_wiped";
    case FileState::kWiped:
      return "wiped";
    case FileState::kSelfAttested:
      return "self_attested";
    case FileState::kNotFound:
      return "not_found";
  }
  return "not_found";
}

const char* AssuranceName(Assurance assurance) {
  switch (assurance) {
    case Assurance::kOverwriteVerified:
      return "overwrite_verified";
    case Assurance::kOverwriteFlash:
      return "overwrite_flash";
    case Assurance::kLogicalOnly:
      return "logical_only";
    case Assurance::kSelfAttested:
      return "self_attested";
  }
  return "self_attested";
}

std::optional<Assurance> ParseAgentAssurance(absl::string_view name) {
  for (Assurance level :
       {Assurance::kOverwriteVerified, Assurance::kOverwriteFlash, Assurance::kLogicalOnly}) {
    if (name == AssuranceName(level)) return level;
  }
  return std::nullopt;
}

std::optional<Assurance> Weaker(std::optional<Assurance> a, std::optional<Assurance> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);  // declared strongest first
}

const char* CopyStatusName(CopyStatus status) {
  switch (status) {
    case CopyStatus::kWiped:
      return "wiped";
    case CopyStatus::kFailed:
      return "failed";
    case CopyStatus::kNeedsReview:
      return "needs_review";
    case CopyStatus::kSkipped:
      return "skipped";
    case CopyStatus::kResidual:
      return "residual";
  }
  return "failed";
}

std::optional<CopyStatus> ParseCopyStatus(absl::string_view name) {
  for (CopyStatus status : {CopyStatus::kWiped, CopyStatus::kFailed, CopyStatus::kNeedsReview,
                            CopyStatus::kSkipped, CopyStatus::kResidual}) {
    if (name == CopyStatusName(status)) return status;
  }
  return std::nullopt;
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kVerifiedComplete:
      return "verified_complete";
    case Verdict::kIncomplete:
      return "incomplete";
    case Verdict::kDiscrepancy:
      return "discrepancy";
  }
  return "discrepancy";
}

void DecideVerdict(Reconciliation& r) {
  r.file_counts.fill(0);
  r.assurance_floor.reset();
  for (const FileResult& file : r.files) {
    ++r.file_counts[static_cast<int>(file.state)];
    if (file.state == FileState::kWiped || file.state == FileState::kSelfAttested) {
      r.assurance_floor = Weaker(r.assurance_floor, file.assurance);
    }
  }
  // A wiped copy the inventory did not expect (a derived extract, a copy under
  // another dataset) is the bank's data too: if it was only deleted
  // logically, the floor must say so.
  for (const UnexpectedCopy& copy : r.unexpected) {
    if (copy.status == CopyStatus::kWiped) {
      r.assurance_floor =
          Weaker(r.assurance_floor, copy.assurance.value_or(Assurance::kLogicalOnly));
    }
  }
  r.unexpected_left_in_place = static_cast<uint64_t>(
      std::count_if(r.unexpected.begin(), r.unexpected.end(),
                    [](const UnexpectedCopy& copy) { return copy.left_in_place(); }));

  r.reasons.clear();
  if (const uint64_t n = r.count(FileState::kResidual); n > 0) {
    r.reasons.push_back(Count(n, "file", "files", "still found after the wipe (residual)"));
  }
  if (const uint64_t n = r.count(FileState::kFailed); n > 0) {
    r.reasons.push_back(Count(n, "file", "files", "failed to wipe"));
  }
  if (const uint64_t n = r.count(FileState::kFoundNotWiped); n > 0) {
    r.reasons.push_back(Count(n, "file", "files", "found but not wiped"));
  }
  if (r.unexpected_left_in_place > 0) {
    r.reasons.push_back(
        Count(r.unexpected_left_in_place, "unexpected copy", "unexpected copies", "left in place"));
  }
  if (r.refused_attestations > 0) {
    r.reasons.push_back(Count(r.refused_attestations, "attestation", "attestations", "refused"));
  }
  const bool discrepancy = !r.reasons.empty();
  if (const uint64_t n = r.count(FileState::kNotFound); n > 0) {
    r.reasons.push_back(Count(n, "file", "files", "not found by any agent nor self-attested"));
  }
  if (!r.unanswered_orders.empty()) {
    std::string reason = Count(r.unanswered_orders.size(), "order", "orders", "not yet answered");
    if (!r.overdue_orders.empty())
      absl::StrAppend(&reason, " (", r.overdue_orders.size(), " overdue)");
    r.reasons.push_back(std::move(reason));
  }
  if (!r.hosts_without_order.empty()) {
    r.reasons.push_back(Count(r.hosts_without_order.size(), "enrolled host", "enrolled hosts",
                              "without a wipe order"));
  }
  if (r.unexamined_after_wipe > 0) {
    r.reasons.push_back(Count(r.unexamined_after_wipe, "place", "places",
                              "not examined by the scan after the wipe"));
  }
  r.verdict = discrepancy          ? Verdict::kDiscrepancy
              : !r.reasons.empty() ? Verdict::kIncomplete
                                   : Verdict::kVerifiedComplete;
}

}  // namespace offboard::common
