// The wipe engine: carries out a wipe plan target by target, journaling every
// step before it is taken, resuming an interrupted run from its journal, and
// reporting for every finding what was achieved — never more.
//
// A target is a file on disk. Whole files are destroyed in place
// (file_destroyer.h). Archives and derived copies that keep the vendor's other
// data are written again without the bank's members or records to a new file
// in the same directory, which then atomically replaces the original; the old
// inode is first given a hidden second name so that a crash at any point
// leaves it reachable, and is then destroyed like any other file.
//
//   WipeEngine engine(roots, policy, &fingerprints);
//   std::vector<WipeItem> items = engine.Execute(plan, journal);
//
// Not thread-safe: one engine, one thread.
#ifndef OFFBOARD_AGENT_WIPE_WIPE_ENGINE_H_
#define OFFBOARD_AGENT_WIPE_WIPE_ENGINE_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/scan/derived_matcher.h"
#include "agent/scan/finding.h"
#include "agent/wipe/confined_file.h"
#include "agent/wipe/file_destroyer.h"
#include "agent/wipe/storage_probe.h"
#include "agent/wipe/target_history.h"
#include "agent/wipe/wipe_journal.h"
#include "agent/wipe/wipe_outcome.h"
#include "agent/wipe/wipe_plan.h"
#include "offboard/v1/policy.pb.h"

namespace offboard::agent {

// One line of the report's "items": a finding and the outcome of its target.
struct WipeItem {
  Finding finding;
  TargetOutcome outcome;
};

class WipeEngine {
 public:
  // `roots` must outlive the engine; `fingerprints` (for redaction) may be null.
  WipeEngine(const std::vector<WipeRoot>& roots, const offboard::v1::WipePolicy& policy,
             const FingerprintIndex* fingerprints, bool cross_mounts = false)
      : roots_(roots), policy_(policy), fingerprints_(fingerprints), cross_mounts_(cross_mounts) {}

  // Executes every target of `plan` that `journal` does not record as done,
  // continuing interrupted ones from their last completed step. Target t's
  // records carry "t": t. Returns one item per finding, in plan order. A
  // target that cannot be wiped is an item with status failed and the reason;
  // an error is returned only when the journal itself cannot be written (then
  // nothing more may be done, since nothing more could be proven).
  absl::StatusOr<std::vector<WipeItem>> Execute(const WipePlan& plan, WipeJournal& journal);

 private:
  absl::StatusOr<TargetOutcome> RunTarget(const WipeTarget& target,
                                          const std::vector<nlohmann::json>& history,
                                          const StepJournal& journal);
  absl::StatusOr<TargetOutcome> WipeWholeFile(const WipeRoot& root, const WipeTarget& target,
                                              const std::vector<nlohmann::json>& history,
                                              const StepJournal& journal);
  absl::StatusOr<TargetOutcome> RewriteAndWipe(const WipeRoot& root, const WipeTarget& target,
                                               const std::vector<nlohmann::json>& history,
                                               const StepJournal& journal);
  // Removes `target`'s name of an inode that target `destroyed_as` already
  // destroyed (hard links): its content is gone, the name shows an empty file.
  absl::StatusOr<TargetOutcome> RemoveOtherName(const WipeTarget& target,
                                                const std::string& destroyed_as,
                                                const TargetOutcome& destroyed,
                                                const StepJournal& journal);
  // Continues destroying the inode the plan names, first named `start_path`,
  // from where `history` says an earlier run stopped.
  absl::StatusOr<TargetOutcome> ResumeDestroy(const WipeRoot& root, const WipeTarget& target,
                                              const TargetHistory& history,
                                              const std::string& start_path,
                                              const std::string& method,
                                              const StepJournal& journal);
  // FAILED_PRECONDITION with the reason when the file changed since the scan
  // and is no longer what the plan says; OK when unchanged or still a copy.
  absl::Status CheckUnchanged(const WipeTarget& target, const ConfinedFile& file);

  const std::vector<WipeRoot>& roots_;
  const offboard::v1::WipePolicy& policy_;
  const FingerprintIndex* fingerprints_;
  bool cross_mounts_;
  // For the plan being executed (Execute is not reentrant): the targets that
  // change a file, by the (device, inode) they name. An inode with more links
  // than the distinct directory entries of those names that open below the
  // roots (no mount crossed: a bind mount can show an outside file below a
  // root) has a name outside the roots; overwriting or rewriting it in place
  // would change that name, so it is left alone.
  std::map<std::pair<uint64_t, uint64_t>, std::vector<std::string>> names_in_plan_;
  uint64_t NamesBelowRoots(const ConfinedFile& file);
  // A needs_review outcome when `file` has a hard link outside the roots.
  std::optional<TargetOutcome> LinkedOutsideRoots(const WipeTarget& target,
                                                  const ConfinedFile& file);
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_WIPE_ENGINE_H_
