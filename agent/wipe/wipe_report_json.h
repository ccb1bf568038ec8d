// The wipe report of INTERFACE.md: the scan report's keys plus "items" (one
// per finding, with what was done and the assurance reached), the post-wipe
// scan, and the path of the signed attestation. The attestation's predicate
// carries the same items, so the two never disagree.
//
//   nlohmann::ordered_json report = WipeReportToJson(first_scan, items, post_scan, path);
//
// Pure functions.
#ifndef OFFBOARD_AGENT_WIPE_WIPE_REPORT_JSON_H_
#define OFFBOARD_AGENT_WIPE_WIPE_REPORT_JSON_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/scan/finding.h"
#include "agent/wipe/wipe_engine.h"

namespace offboard::agent {

// {"path", "member", "dataset_id", "sha256", "match", "status", "assurance",
//  "method", "passes": [{"pattern", "verified", "verify_method"}], "renames",
//  "bytes_overwritten", "link_count", "storage": {"fs_type", "device",
//  "rotational", "mount_options", "shared_extents", ...} | null, "reason"}
nlohmann::ordered_json WipeItemToJson(const WipeItem& item);

// Counts of items by status: {"wiped": N, "failed": N, ...}.
nlohmann::ordered_json ItemSummary(const std::vector<WipeItem>& items);

nlohmann::ordered_json WipeReportToJson(const ScanReport& first_scan,
                                        const std::vector<WipeItem>& items,
                                        const ScanReport& post_scan,
                                        const std::string& attestation_path);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_WIPE_REPORT_JSON_H_
