#include "agent/wipe/wipe_plan.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/encoding/hex.h"

namespace offboard::agent {
namespace {

using offboard::v1::WipePolicy;

// Strength order: a stronger action on a file covers every weaker one.
int Strength(WipeAction action) {
  switch (action) {
    case WipeAction::kWipeFile:
      return 3;
    case WipeAction::kRewriteArchive:
      return 2;
    case WipeAction::kRedactRecords:
      return 1;
    case WipeAction::kReportOnly:
      return 0;
  }
  return 0;
}

// The action one finding asks for under `policy`, and why.
std::pair<WipeAction, std::string> ActionFor(const Finding& finding, const WipePolicy& policy) {
  if (!finding.member.empty()) {
    switch (policy.archive_members()) {
      case offboard::v1::ARCHIVE_MEMBER_ACTION_REWRITE_ARCHIVE:
        return {WipeAction::kRewriteArchive, "archive member: rewrite the archive without it"};
      case offboard::v1::ARCHIVE_MEMBER_ACTION_WIPE_WHOLE_ARCHIVE:
        return {WipeAction::kWipeFile, "archive member: the policy wipes the whole archive"};
      default:
        return {WipeAction::kReportOnly, "archive member: the policy reports only"};
    }
  }
  if (finding.match == MatchKind::kDerived) {
    switch (policy.derived_copies()) {
      case offboard::v1::DERIVED_COPY_ACTION_WIPE_WHOLE_FILE:
        return {WipeAction::kWipeFile, "derived copy: the policy wipes the whole file"};
      case offboard::v1::DERIVED_COPY_ACTION_REDACT_RECORDS:
        return {WipeAction::kRedactRecords, "derived copy: write it again without the records"};
      default:
        return {WipeAction::kReportOnly, "derived copy: the policy reports only"};
    }
  }
  return {WipeAction::kWipeFile, finding.match == MatchKind::kTag
                                     ? "tagged with user.offboard.dataset"
                                     : "exact copy"};
}

absl::StatusOr<std::string> HexToBytes(absl::string_view hex) {
  absl::StatusOr<std::vector<uint8_t>> bytes = common::HexDecode(hex);
  if (!bytes.ok()) return bytes.status();
  return std::string(bytes->begin(), bytes->end());
}

nlohmann::json NamesToHex(const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& name : names) out.push_back(common::HexEncode(name));
  return out;
}

absl::StatusOr<std::vector<std::string>> NamesFromHex(const nlohmann::json& json) {
  std::vector<std::string> names;
  if (!json.is_array()) return absl::InvalidArgumentError("expected an array of hex names");
  for (const nlohmann::json& item : json) {
    if (!item.is_string()) return absl::InvalidArgumentError("expected a hex name");
    absl::StatusOr<std::string> name = HexToBytes(item.get<std::string>());
    if (!name.ok()) return name.status();
    names.push_back(*std::move(name));
  }
  return names;
}

}  // namespace

const char* WipeActionName(WipeAction action) {
  switch (action) {
    case WipeAction::kWipeFile:
      return "wipe_file";
    case WipeAction::kRewriteArchive:
      return "rewrite_archive";
    case WipeAction::kRedactRecords:
      return "redact_records";
    case WipeAction::kReportOnly:
      return "report_only";
  }
  return "report_only";
}

std::optional<WipeAction> WipeActionFromName(absl::string_view name) {
  for (WipeAction action : {WipeAction::kWipeFile, WipeAction::kRewriteArchive,
                            WipeAction::kRedactRecords, WipeAction::kReportOnly}) {
    if (name == WipeActionName(action)) return action;
  }
  return std::nullopt;
}

WipePlan PlanWipe(const std::vector<Finding>& findings, const WipePolicy& policy) {
  std::map<std::string, WipeTarget> by_path;
  for (const Finding& finding : findings) {
    auto [it, inserted] = by_path.try_emplace(finding.path);
    WipeTarget& target = it->second;
    const auto [action, reason] = ActionFor(finding, policy);
    if (inserted) {
      target.path = finding.path;
      target.identity = finding.identity;
      target.action = action;
      target.reason = reason;
    } else if (Strength(action) > Strength(target.action)) {
      target.action = action;
      target.reason = reason;
    }
    target.findings.push_back(finding);
  }
  WipePlan plan;
  for (auto& [path, target] : by_path) {
    for (const Finding& finding : target.findings) {
      if (target.action == WipeAction::kRewriteArchive && !finding.member.empty() &&
          std::find(target.drop_members.begin(), target.drop_members.end(), finding.member) ==
              target.drop_members.end()) {
        target.drop_members.push_back(finding.member);
      }
      if (target.action == WipeAction::kRedactRecords && finding.match == MatchKind::kDerived &&
          std::find(target.redact_datasets.begin(), target.redact_datasets.end(),
                    finding.dataset_id) == target.redact_datasets.end()) {
        target.redact_datasets.push_back(finding.dataset_id);
      }
    }
    plan.targets.push_back(std::move(target));
  }
  return plan;
}

std::string DescribePlan(const WipePlan& plan) {
  std::string out;
  for (const WipeTarget& target : plan.targets) {
    absl::StrAppend(&out, WipeActionName(target.action), "  ", target.path, "  (", target.reason,
                    ")\n");
    for (const Finding& finding : target.findings) {
      absl::StrAppend(&out, "    ", MatchKindName(finding.match), " ", finding.dataset_id);
      if (!finding.member.empty()) absl::StrAppend(&out, " member ", absl::StrJoin(finding.member, " > "));
      absl::StrAppend(&out, "\n");
    }
  }
  absl::StrAppend(&out, plan.targets.size(), " files in the plan\n");
  return out;
}

nlohmann::json PlanToJson(const WipePlan& plan) {
  nlohmann::json targets = nlohmann::json::array();
  for (const WipeTarget& target : plan.targets) {
    nlohmann::json findings = nlohmann::json::array();
    for (const Finding& finding : target.findings) {
      findings.push_back({{"dataset_id", finding.dataset_id},
                          {"sha256", finding.sha256},
                          {"member_hex", NamesToHex(finding.member)},
                          {"match", MatchKindName(finding.match)},
                          {"size", finding.size},
                          {"records_matched", finding.records_matched}});
    }
    nlohmann::json drops = nlohmann::json::array();
    for (const auto& chain : target.drop_members) drops.push_back(NamesToHex(chain));
    targets.push_back({{"path_hex", common::HexEncode(target.path)},
                       {"action", WipeActionName(target.action)},
                       {"drop_members_hex", drops},
                       {"redact_datasets", target.redact_datasets},
                       {"device", target.identity.device},
                       {"inode", target.identity.inode},
                       {"size", target.identity.size},
                       {"mtime_ns", target.identity.mtime_ns},
                       {"link_count", target.identity.link_count},
                       {"reason", target.reason},
                       {"findings", findings}});
  }
  return targets;
}

absl::StatusOr<WipePlan> PlanFromJson(const nlohmann::json& json) {
  const auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("wipe plan: ", what));
  };
  if (!json.is_array()) return bad("not an array");
  WipePlan plan;
  try {
    for (const nlohmann::json& item : json) {
      WipeTarget target;
      absl::StatusOr<std::string> path = HexToBytes(item.at("path_hex").get<std::string>());
      if (!path.ok()) return bad("path_hex");
      target.path = *std::move(path);
      const std::optional<WipeAction> action =
          WipeActionFromName(item.at("action").get<std::string>());
      if (!action) return bad("unknown action");
      target.action = *action;
      for (const nlohmann::json& chain : item.at("drop_members_hex")) {
        absl::StatusOr<std::vector<std::string>> names = NamesFromHex(chain);
        if (!names.ok()) return bad(names.status().message());
        target.drop_members.push_back(*std::move(names));
      }
      target.redact_datasets = item.at("redact_datasets").get<std::vector<std::string>>();
      target.identity.device = item.at("device").get<uint64_t>();
      target.identity.inode = item.at("inode").get<uint64_t>();
      target.identity.size = item.at("size").get<uint64_t>();
      target.identity.mtime_ns = item.at("mtime_ns").get<int64_t>();
      target.identity.link_count = item.at("link_count").get<uint64_t>();
      target.reason = item.at("reason").get<std::string>();
      for (const nlohmann::json& f : item.at("findings")) {
        Finding finding;
        finding.dataset_id = f.at("dataset_id").get<std::string>();
        finding.sha256 = f.at("sha256").get<std::string>();
        absl::StatusOr<std::vector<std::string>> member = NamesFromHex(f.at("member_hex"));
        if (!member.ok()) return bad(member.status().message());
        finding.member = *std::move(member);
        const std::string match = f.at("match").get<std::string>();
        for (MatchKind kind :
             {MatchKind::kExact, MatchKind::kArchive, MatchKind::kDerived, MatchKind::kTag}) {
          if (match == MatchKindName(kind)) finding.match = kind;
        }
        finding.size = f.at("size").get<uint64_t>();
        finding.records_matched = f.at("records_matched").get<uint64_t>();
        finding.path = target.path;
        finding.identity = target.identity;
        target.findings.push_back(std::move(finding));
      }
      plan.targets.push_back(std::move(target));
    }
  } catch (const nlohmann::json::exception& error) {
    return bad(error.what());
  }
  return plan;
}

nlohmann::json ScanErrorsToJson(const std::vector<ScanError>& errors) {
  nlohmann::json out = nlohmann::json::array();
  for (const ScanError& error : errors) {
    out.push_back({{"path_hex", common::HexEncode(error.path)},
                   {"member_hex", NamesToHex(error.member)},
                   {"reason_hex", common::HexEncode(error.reason)}});
  }
  return out;
}

absl::StatusOr<std::vector<ScanError>> ScanErrorsFromJson(const nlohmann::json& json) {
  const auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("scan errors: ", what));
  };
  if (!json.is_array()) return bad("not an array");
  std::vector<ScanError> errors;
  try {
    for (const nlohmann::json& item : json) {
      absl::StatusOr<std::string> path = HexToBytes(item.at("path_hex").get<std::string>());
      absl::StatusOr<std::vector<std::string>> member = NamesFromHex(item.at("member_hex"));
      absl::StatusOr<std::string> reason = HexToBytes(item.at("reason_hex").get<std::string>());
      if (!path.ok() || !member.ok() || !reason.ok()) return bad("not hex");
      errors.push_back(
          {.path = *std::move(path), .member = *std::move(member), .reason = *std::move(reason)});
    }
  } catch (const nlohmann::json::exception& error) {
    return bad(error.what());
  }
  return errors;
}

}  // namespace offboard::agent
