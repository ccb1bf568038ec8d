#include "agent/scan/scan_report_json.h"

#include "common/encoding/hex.h"
#include "common/encoding/utf8.h"

namespace offboard::agent {
namespace {

// Replaces every invalid sequence with U+FFFD, byte by byte.
std::string LossyUtf8(const std::string& name) {
  std::string out;
  absl::string_view rest(name);
  while (!rest.empty()) {
    const size_t bad = common::FindInvalidUtf8(rest);
    if (bad == absl::string_view::npos) {
      out.append(rest.data(), rest.size());
      break;
    }
    out.append(rest.data(), bad);
    out.append("\xEF\xBF\xBD");
    rest.remove_prefix(bad + 1);
  }
  return out;
}

}  // namespace

void AddFileName(nlohmann::ordered_json& object, const std::string& key, const std::string& name) {
  object[key] = LossyUtf8(name);
  if (!common::IsValidUtf8(name)) object[key + "_hex"] = common::HexEncode(name);
}

void AddMemberChain(nlohmann::ordered_json& object, const std::vector<std::string>& member) {
  nlohmann::ordered_json chain = nlohmann::ordered_json::array();
  bool exact = true;
  for (const std::string& name : member) {
    exact = exact && common::IsValidUtf8(name);
    chain.push_back(LossyUtf8(name));
  }
  object["member"] = std::move(chain);
  if (!exact) {
    nlohmann::ordered_json hex = nlohmann::ordered_json::array();
    for (const std::string& name : member) hex.push_back(common::HexEncode(name));
    object["member_hex"] = hex;
  }
}

nlohmann::ordered_json ScanReportToJson(const ScanReport& report) {
  nlohmann::ordered_json json;
  json["findings"] = nlohmann::ordered_json::array();
  for (const Finding& finding : report.findings) {
    nlohmann::ordered_json entry;
    entry["dataset_id"] = finding.dataset_id;
    entry["sha256"] = finding.sha256;
    AddFileName(entry, "path", finding.path);
    AddMemberChain(entry, finding.member);
    entry["match"] = MatchKindName(finding.match);
    entry["size"] = finding.size;
    if (finding.match == MatchKind::kDerived) entry["records_matched"] = finding.records_matched;
    entry["device"] = finding.identity.device;
    entry["inode"] = finding.identity.inode;
    entry["mtime_ns"] = finding.identity.mtime_ns;
    entry["link_count"] = finding.identity.link_count;
    json["findings"].push_back(std::move(entry));
  }
  json["errors"] = nlohmann::ordered_json::array();
  for (const ScanError& error : report.errors) {
    nlohmann::ordered_json entry;
    AddFileName(entry, "path", error.path);
    if (!error.member.empty()) AddMemberChain(entry, error.member);
    entry["reason"] = LossyUtf8(error.reason);
    json["errors"].push_back(std::move(entry));
  }
  json["stats"] = {{"files_scanned", report.stats.files_scanned},
                   {"bytes_read", report.stats.bytes_read},
                   {"archives_opened", report.stats.archives_opened},
                   {"members_examined", report.stats.members_examined},
                   {"bytes_decompressed", report.stats.bytes_decompressed}};
  return json;
}

}  // namespace offboard::agent
