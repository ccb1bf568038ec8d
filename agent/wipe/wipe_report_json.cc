#include "agent/wipe/wipe_report_json.h"

#include "agent/scan/scan_report_json.h"

namespace offboard::agent {

nlohmann::ordered_json WipeItemToJson(const WipeItem& item) {
  const Finding& finding = item.finding;
  const TargetOutcome& outcome = item.outcome;
  nlohmann::ordered_json json;
  AddFileName(json, "path", finding.path);
  AddMemberChain(json, finding.member);
  json["dataset_id"] = finding.dataset_id;
  json["sha256"] = finding.sha256;
  json["match"] = MatchKindName(finding.match);
  json["status"] = ItemStatusName(outcome.status);
  json["assurance"] = outcome.assurance
                          ? nlohmann::ordered_json(common::AssuranceName(*outcome.assurance))
                          : nullptr;
  json["method"] = outcome.method;
  nlohmann::ordered_json passes = nlohmann::ordered_json::array();
  for (const PassRecord& pass : outcome.passes) {
    passes.push_back({{"pattern", pass.pattern},
                      {"verified", pass.verified},
                      {"verify_method", pass.verify_method}});
  }
  json["passes"] = passes;
  json["renames"] = outcome.renames;
  json["bytes_overwritten"] = outcome.bytes_overwritten;
  json["link_count"] = outcome.link_count;
  json["storage"] = outcome.storage
                        ? nlohmann::ordered_json::parse(StorageFactsToJson(*outcome.storage).dump(
                              -1, ' ', false, nlohmann::json::error_handler_t::replace))
                        : nlohmann::ordered_json(nullptr);
  json["reason"] = outcome.reason;
  return json;
}

nlohmann::ordered_json ItemSummary(const std::vector<WipeItem>& items) {
  nlohmann::ordered_json summary;
  for (ItemStatus status : {ItemStatus::kWiped, ItemStatus::kFailed, ItemStatus::kNeedsReview,
                            ItemStatus::kSkipped, ItemStatus::kResidual}) {
    summary[ItemStatusName(status)] = 0;
  }
  for (const WipeItem& item : items) {
    summary[ItemStatusName(item.outcome.status)] =
        summary[ItemStatusName(item.outcome.status)].get<int>() + 1;
  }
  return summary;
}

nlohmann::ordered_json WipeReportToJson(const ScanReport& first_scan,
                                        const std::vector<WipeItem>& items,
                                        const ScanReport& post_scan,
                                        const std::string& attestation_path) {
  nlohmann::ordered_json report = ScanReportToJson(first_scan);
  nlohmann::ordered_json item_list = nlohmann::ordered_json::array();
  for (const WipeItem& item : items) item_list.push_back(WipeItemToJson(item));
  report["items"] = std::move(item_list);
  report["summary"] = ItemSummary(items);
  nlohmann::ordered_json post = ScanReportToJson(post_scan);
  report["post_wipe_scan"] = {{"findings", post["findings"]},
                              {"errors", post["errors"]},
                              {"stats", post["stats"]}};
  report["attestation"] = attestation_path;
  return report;
}

}  // namespace offboard::agent
