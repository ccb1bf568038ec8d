// The wipe plan: what will be done to each file on disk that holds the bank's
// data, decided from the scan's findings and the policy before anything is
// touched. `--dry-run` prints it and stops.
//
// Several findings can point into one file (two members of one archive, an
// exact copy that is also a derived copy); the plan has one target per file
// and the strongest action wins: wiping the whole file covers everything in
// it, rewriting an archive drops all its tagged members at once.
//
//   WipePlan plan = PlanWipe(scan_report, policy);
//   std::cout << DescribePlan(plan);
//
// Plain data and pure functions.
#ifndef OFFBOARD_AGENT_WIPE_WIPE_PLAN_H_
#define OFFBOARD_AGENT_WIPE_WIPE_PLAN_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/scan/finding.h"
#include "offboard/v1/policy.pb.h"

namespace offboard::agent {

enum class WipeAction {
  kWipeFile,        // overwrite, rename, truncate and unlink the whole file
  kRewriteArchive,  // write the archive again without the members, then wipe the old one
  kRedactRecords,   // write the text again without the records, then wipe the old one
  kReportOnly,      // the policy says: change nothing
};

// "wipe_file", "rewrite_archive", "redact_records", "report_only".
const char* WipeActionName(WipeAction action);
std::optional<WipeAction> WipeActionFromName(absl::string_view name);

struct WipeTarget {
  std::string path;  // the file on disk
  WipeAction action = WipeAction::kWipeFile;
  // kRewriteArchive: the member chains to drop.
  std::vector<std::vector<std::string>> drop_members;
  // kRedactRecords: the datasets whose records go.
  std::vector<std::string> redact_datasets;
  FileIdentity identity;  // of `path` when it was scanned
  // The findings this target resolves (copies of the scan's findings).
  std::vector<Finding> findings;
  std::string reason;  // why this action (the policy rule that chose it)
};

struct WipePlan {
  std::vector<WipeTarget> targets;  // sorted by path
};

WipePlan PlanWipe(const std::vector<Finding>& findings, const offboard::v1::WipePolicy& policy);

// A person's view of the plan: one line per target, then its findings.
std::string DescribePlan(const WipePlan& plan);

// The plan as JSON, for the journal (so that a resumed wipe follows the plan
// it started with) and back. INVALID_ARGUMENT for JSON that is not a plan.
nlohmann::json PlanToJson(const WipePlan& plan);
absl::StatusOr<WipePlan> PlanFromJson(const nlohmann::json& json);

// The errors of the scan a plan came from, for the journal too: a resumed
// wipe still reports what that scan could not examine. INVALID_ARGUMENT for
// JSON that is not such a list.
nlohmann::json ScanErrorsToJson(const std::vector<ScanError>& errors);
absl::StatusOr<std::vector<ScanError>> ScanErrorsFromJson(const nlohmann::json& json);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_WIPE_PLAN_H_
