// The scan report of INTERFACE.md as JSON:
//   {"findings": [{"dataset_id", "sha256", "path", "member": [...], "match",
//                  "size", "records_matched"?, "device", "inode", "mtime_ns",
//                  "link_count"}],
//    "errors": [{"path", "member"?, "reason"}],
//    "stats": {"files_scanned", "bytes_read", ...}}
// File names are bytes on Linux: a path or member name that is not valid
// UTF-8 is written with U+FFFD in its place and its exact bytes in a sibling
// "<key>_hex" field, so a later wipe can still name the file exactly.
#ifndef OFFBOARD_AGENT_SCAN_SCAN_REPORT_JSON_H_
#define OFFBOARD_AGENT_SCAN_SCAN_REPORT_JSON_H_

#include <nlohmann/json.hpp>

#include "agent/scan/finding.h"

namespace offboard::agent {

nlohmann::ordered_json ScanReportToJson(const ScanReport& report);

// Adds `key` (UTF-8, lossy) and, when needed, `key`_hex (exact bytes) to `object`.
void AddFileName(nlohmann::ordered_json& object, const std::string& key, const std::string& name);

// Adds "member" (UTF-8, lossy) and, when needed, "member_hex" (exact bytes).
void AddMemberChain(nlohmann::ordered_json& object, const std::vector<std::string>& member);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_SCAN_REPORT_JSON_H_
