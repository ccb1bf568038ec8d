// Destroying one file: every policy pass over its allocated blocks, each
// synced and (as the policy says) read back from the medium; then renames to
// random names, truncation and unlinking, each followed by a directory sync,
// and each announced in the journal before it is taken.
//
// The file is held as a ConfinedFile (an open descriptor plus the directory
// and name that hold it), so nothing here resolves a path: a directory
// swapped for a symlink during the wipe cannot redirect a single write.
//
//   DestroyState state;  // or as read back from the journal after a crash
//   OFFBOARD_ASSIGN_OR_RETURN(DestroyOutcome outcome,
//                             DestroyFile(file, policy, state, journal_steps, "/srv/x.csv"));
//
// Not thread-safe: one file, one thread.
#ifndef OFFBOARD_AGENT_WIPE_FILE_DESTROYER_H_
#define OFFBOARD_AGENT_WIPE_FILE_DESTROYER_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/wipe/confined_file.h"
#include "agent/wipe/overwrite.h"
#include "agent/wipe/storage_probe.h"
#include "offboard/v1/policy.pb.h"

namespace offboard::agent {

// Makes a journal record durable before the step it describes is taken.
using StepJournal = std::function<absl::Status(nlohmann::json step)>;

// What a pass achieved.
struct PassRecord {
  std::string pattern;         // "zeros", "random", ...
  bool verified = false;       // read back from the medium and compared
  std::string verify_method;   // "direct_io" | "cache_dropped" | "" when not verified
};

// Where an interrupted destruction stands (from the journal); default: fresh.
struct DestroyState {
  std::vector<PassRecord> passes_done;  // completed passes, in order
  uint32_t renames_done = 0;
  bool truncated = false;
};

struct DestroyOutcome {
  std::vector<PassRecord> passes;
  uint64_t bytes_overwritten = 0;  // per pass
  uint32_t renames = 0;
  uint64_t link_count = 1;  // names the inode had before this one was removed
  StorageFacts storage;
  common::Assurance assurance = common::Assurance::kLogicalOnly;
  std::string note;  // caveats worth a person's attention (other hard links)
};

// Journal steps written (each with "step" and the fields shown):
//   {"step":"pass","k":K}                    before pass K
//   {"step":"pass_done","k":K,"pattern":P,"verified":B,"method":M}
//   {"step":"rename","from":A,"to":B}        before renaming A to B (names in `dir`, hex)
//   {"step":"truncate"}                      before truncating
//   {"step":"unlink","name":N}               before unlinking (hex)
// `storage` may be given when the caller probed the file already.
absl::StatusOr<DestroyOutcome> DestroyFile(ConfinedFile& file,
                                           const offboard::v1::WipePolicy& policy,
                                           const DestroyState& state, const StepJournal& journal,
                                           absl::string_view display_path,
                                           std::optional<StorageFacts> storage = std::nullopt);

// The assurance a destruction reached: the storage's ceiling, and
// logical_only unless the last pass was verified.
common::Assurance AchievedAssurance(const StorageFacts& storage,
                                    const std::vector<PassRecord>& passes);

// A fresh random name of `length` (at least 12) characters [a-z0-9].
std::string RandomFileName(size_t length);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_FILE_DESTROYER_H_
