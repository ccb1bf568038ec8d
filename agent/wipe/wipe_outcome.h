// What the wipe achieved for one target (a file on disk), in the words of the
// report and the attestation, and its JSON form for both and for the journal.
// Plain data and pure functions.
#ifndef OFFBOARD_AGENT_WIPE_WIPE_OUTCOME_H_
#define OFFBOARD_AGENT_WIPE_WIPE_OUTCOME_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/wipe/file_destroyer.h"
#include "agent/wipe/storage_probe.h"

namespace offboard::agent {

enum class ItemStatus { kWiped, kFailed, kNeedsReview, kSkipped, kResidual };
// "wiped", "failed", "needs_review", "skipped", "residual".
const char* ItemStatusName(ItemStatus status);

struct TargetOutcome {
  ItemStatus status = ItemStatus::kFailed;
  std::string method;  // "overwrite", "rewrite_archive", "redact_records", "none"
  std::optional<common::Assurance> assurance;  // set only when wiped
  std::vector<PassRecord> passes;
  uint32_t renames = 0;
  uint64_t bytes_overwritten = 0;  // per pass
  uint64_t link_count = 0;
  std::optional<StorageFacts> storage;
  std::string reason;
};

TargetOutcome MakeOutcome(ItemStatus status, std::string method, std::string reason);
// A wiped outcome from what the destruction achieved; its note joins `reason`.
TargetOutcome WipedOutcome(DestroyOutcome destroyed, std::string method, std::string reason);

// {"status", "method", "assurance"?, "passes": [{"pattern", "verified",
// "verify_method"}], "renames", "bytes_overwritten", "link_count",
// "storage"?, "reason"}
nlohmann::json TargetOutcomeToJson(const TargetOutcome& outcome);
// INVALID_ARGUMENT naming the field for JSON that is not an outcome.
absl::StatusOr<TargetOutcome> TargetOutcomeFromJson(const nlohmann::json& json);

// {"fs_type", "device", "mount_point", "rotational", "discard",
//  "mount_options", "data_journal", "shared_extents", "extents_mapped", "note"}
// with null for facts that are unknown.
nlohmann::json StorageFactsToJson(const StorageFacts& facts);
absl::StatusOr<StorageFacts> StorageFactsFromJson(const nlohmann::json& json);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_WIPE_OUTCOME_H_
