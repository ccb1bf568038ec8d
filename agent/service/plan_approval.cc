#include "agent/service/plan_approval.h"

#include <boost/filesystem/operations.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "agent/scan/scan_report_json.h"
#include "agent/service/outbox.h"
#include "common/crypto/sha256.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

constexpr size_t kMaxPlanBytes = 256 << 20;

fs::path OrderDir(const fs::path& data_dir, const std::string& order_id) {
  return data_dir / "orders" / order_id;
}

// A word for the shell: as is when it is plainly safe, otherwise single-quoted.
std::string ShellWord(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_-./:=@%+,") == std::string::npos;
  if (plain) return word;
  return absl::StrCat("'", absl::StrReplaceAll(word, {{"'", "'\\''"}}), "'");
}

std::string Dump(const nlohmann::ordered_json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

nlohmann::ordered_json FindingToJson(const Finding& finding) {
  nlohmann::ordered_json entry = {{"dataset_id", finding.dataset_id},
                                  {"match", MatchKindName(finding.match)},
                                  {"sha256", finding.sha256},
                                  {"size", finding.size},
                                  {"records_matched", finding.records_matched}};
  AddMemberChain(entry, finding.member);
  return entry;
}

std::string Plural(uint64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

}  // namespace

fs::path PlanPath(const fs::path& data_dir, const std::string& order_id) {
  return OrderDir(data_dir, order_id) / "plan.json";
}

fs::path ApprovalPath(const fs::path& data_dir, const std::string& order_id) {
  return OrderDir(data_dir, order_id) / "approval.json";
}

std::string ApproveCommand(const fs::path& data_dir, const std::string& order_id) {
  return absl::StrCat("offboard-agent approve ", ShellWord(order_id), " --data-dir ",
                      ShellWord(data_dir.string()));
}

PlanCounts CountPlan(const WipePlan& plan) {
  PlanCounts counts;
  for (const WipeTarget& target : plan.targets) {
    ++counts.targets;
    ++counts.actions[WipeActionName(target.action)];
    for (const Finding& finding : target.findings) {
      if (!finding.member.empty()) {
        ++counts.archive_members;
      } else if (finding.match == MatchKind::kDerived) {
        ++counts.derived_copies;
      } else {
        ++counts.files;
      }
    }
  }
  return counts;
}

std::string RenderPlanDocument(const offboard::v1::WipeOrder& order,
                               const std::string& order_sha256,
                               const std::vector<std::string>& roots, const WipePlan& plan) {
  const PlanCounts counts = CountPlan(plan);
  nlohmann::ordered_json actions = nlohmann::ordered_json::object();
  for (const auto& [action, n] : counts.actions) actions[action] = n;
  nlohmann::ordered_json targets = nlohmann::ordered_json::array();
  for (const WipeTarget& target : plan.targets) {
    nlohmann::ordered_json entry;
    AddFileName(entry, "path", target.path);
    entry["action"] = WipeActionName(target.action);
    entry["reason"] = target.reason;
    entry["file"] = {{"device", target.identity.device},
                     {"inode", target.identity.inode},
                     {"size", target.identity.size},
                     {"mtime_ns", target.identity.mtime_ns},
                     {"link_count", target.identity.link_count}};
    nlohmann::ordered_json findings = nlohmann::ordered_json::array();
    for (const Finding& finding : target.findings) findings.push_back(FindingToJson(finding));
    entry["findings"] = std::move(findings);
    targets.push_back(std::move(entry));
  }
  const nlohmann::ordered_json document = {
      {"order_id", order.order_id()},
      {"contract_id", order.contract_id()},
      {"order_sha256", order_sha256},
      {"roots", roots},
      // Sorted keys: PolicyToJson is deterministic, and so is this copy.
      {"policy", nlohmann::ordered_json::parse(PolicyToJson(order.policy()).dump())},
      {"counts",
       {{"targets", counts.targets},
        {"files", counts.files},
        {"archive_members", counts.archive_members},
        {"derived_copies", counts.derived_copies},
        {"actions", std::move(actions)}}},
      {"targets", std::move(targets)}};
  return Dump(document);
}

std::string DescribePlanDocument(const nlohmann::json& document, size_t max_targets) {
  if (!document.is_object()) return "(not a plan document)\n";
  const auto text = [](const nlohmann::json& object, const char* key) -> std::string {
    if (!object.is_object() || !object.contains(key)) return "?";
    const nlohmann::json& value = object[key];
    return value.is_string() ? value.get<std::string>() : value.dump();
  };
  const auto number = [](const nlohmann::json& object, const char* key) -> uint64_t {
    if (!object.is_object() || !object.contains(key) || !object[key].is_number_unsigned()) return 0;
    return object[key].get<uint64_t>();
  };
  std::string out = absl::StrCat("order ", text(document, "order_id"), " of contract ",
                                 text(document, "contract_id"), ", policy ",
                                 text(document.value("policy", nlohmann::json()), "name"), "\n");
  const nlohmann::json counts = document.value("counts", nlohmann::json::object());
  std::vector<std::string> by_action;
  if (counts.contains("actions") && counts["actions"].is_object()) {
    for (const auto& [action, n] : counts["actions"].items()) {
      by_action.push_back(absl::StrCat(n.dump(), " ", action));
    }
  }
  absl::StrAppend(&out, Plural(number(counts, "targets"), "file", "files"), " on disk to act on",
                  by_action.empty() ? "" : ": ", absl::StrJoin(by_action, ", "), "\n");
  absl::StrAppend(
      &out, "copies found: ", Plural(number(counts, "files"), "whole file", "whole files"), ", ",
      Plural(number(counts, "archive_members"), "archive member", "archive members"), ", ",
      Plural(number(counts, "derived_copies"), "derived copy", "derived copies"), "\n");
  const nlohmann::json targets = document.value("targets", nlohmann::json::array());
  if (!targets.is_array()) return out;
  size_t shown = 0;
  for (const nlohmann::json& target : targets) {
    if (shown == max_targets) break;
    ++shown;
    absl::StrAppend(&out, "  ", text(target, "action"), "  ", text(target, "path"), "  (",
                    text(target, "reason"), ")\n");
    if (!target.is_object() || !target.contains("findings") || !target["findings"].is_array()) {
      continue;
    }
    for (const nlohmann::json& finding : target["findings"]) {
      absl::StrAppend(&out, "      ", text(finding, "match"), " ", text(finding, "dataset_id"));
      if (finding.is_object() && finding.contains("member") && finding["member"].is_array() &&
          !finding["member"].empty()) {
        std::vector<std::string> names;
        for (const nlohmann::json& name : finding["member"]) {
          names.push_back(name.is_string() ? name.get<std::string>() : name.dump());
        }
        absl::StrAppend(&out, " member ", absl::StrJoin(names, " > "));
      }
      absl::StrAppend(&out, "\n");
    }
  }
  if (targets.size() > shown) {
    absl::StrAppend(&out, "  ... and ", targets.size() - shown, " more (see plan.json)\n");
  }
  return out;
}

absl::StatusOr<PlanApproval> ReadApproval(const fs::path& data_dir, const std::string& order_id) {
  const fs::path path = ApprovalPath(data_dir, order_id);
  absl::StatusOr<std::string> text = common::ReadFileToString(path, 1 << 20);
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(
          absl::StrCat("order ", order_id, " has no approval (no ", path.string(), ")"));
    }
    return text.status();
  }
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  PlanApproval approval;
  std::string approved_order;
  for (auto [key, field] : {std::pair<const char*, std::string*>{"order_id", &approved_order},
                            {"plan_sha256", &approval.plan_sha256},
                            {"approved_by", &approval.approved_by},
                            {"approved_at", &approval.approved_at}}) {
    if (!json.is_object() || !json.contains(key) || !json[key].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path.string(), ": field '", key, "' missing or not a string"));
    }
    *field = json[key].get<std::string>();
  }
  if (approved_order != order_id) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": approves order ", approved_order, ", not ", order_id));
  }
  return approval;
}

PlanGate ApprovalGate(const fs::path& data_dir, const offboard::v1::WipeOrder& order,
                      const std::string& order_sha256, const std::vector<std::string>& roots,
                      ApprovalCheck* check) {
  return [data_dir, order, order_sha256, roots, check](
             const WipePlan& plan,
             const ScanReport& /*first_scan*/) -> absl::StatusOr<PlanVerdict> {
    const std::string& order_id = order.order_id();
    const std::string document = RenderPlanDocument(order, order_sha256, roots, plan);
    *check = ApprovalCheck{.held = false,
                           .plan_sha256 = common::DigestHex(common::Sha256Of(document)),
                           .reason = "",
                           .counts = CountPlan(plan)};
    absl::StatusOr<PlanApproval> approval = ReadApproval(data_dir, order_id);
    if (approval.ok() && approval->plan_sha256 == check->plan_sha256) {
      common::AuditEvent("wipe_plan_approval_used", {{"order_id", order_id},
                                                     {"plan_sha256", check->plan_sha256},
                                                     {"approved_by", approval->approved_by},
                                                     {"approved_at", approval->approved_at}});
      return PlanVerdict{.proceed = true, .approval = *std::move(approval)};
    }
    if (approval.ok()) {
      check->reason = absl::StrCat("the plan changed since it was approved (approved ",
                                   approval->plan_sha256.substr(0, 12), ", now ",
                                   check->plan_sha256.substr(0, 12), ")");
    } else if (approval.status().code() == absl::StatusCode::kNotFound) {
      check->reason = "not approved yet";
    } else {
      check->reason = absl::StrCat("the approval cannot be used: ", approval.status().message());
    }
    const fs::path path = PlanPath(data_dir, order_id);
    absl::StatusOr<std::string> written = common::ReadFileToString(path, kMaxPlanBytes);
    if (!written.ok() || *written != document) {
      OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(path.parent_path()));
      OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(path, document, 0644));
    }
    check->held = true;
    common::AuditEvent("wipe_plan_awaiting_approval",
                       {{"order_id", order_id},
                        {"plan", path.string()},
                        {"plan_sha256", check->plan_sha256},
                        {"targets", absl::StrCat(check->counts.targets)},
                        {"reason", check->reason}});
    return PlanVerdict{.proceed = false, .approval = std::nullopt};
  };
}

absl::StatusOr<ApprovedPlan> ApprovePlan(const fs::path& data_dir, const std::string& order_id,
                                         const std::string& approved_by,
                                         const std::string& approved_at) {
  if (!IsSafeOrderId(order_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("order id '", order_id.substr(0, 160),
                     "' cannot name an order ([A-Za-z0-9._-], at most 128)"));
  }
  if (approved_by.empty()) return absl::InvalidArgumentError("--by is empty: say who approves");
  const fs::path dir = OrderDir(data_dir, order_id);
  boost::system::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(
        "unknown order ", order_id, ": this agent has not taken it (no ", dir.string(),
        "); `offboard-agent run --approve-plan` writes the plan when it takes an order"));
  }
  if (fs::exists(dir / "done", error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("order ", order_id, " was carried out already (", (dir / "done").string(),
                     "); there is nothing to approve"));
  }
  const fs::path plan_path = PlanPath(data_dir, order_id);
  absl::StatusOr<std::string> text = common::ReadFileToString(plan_path, kMaxPlanBytes);
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError(
          absl::StrCat("order ", order_id, " has no plan yet (no ", plan_path.string(),
                       "); `offboard-agent run --approve-plan` writes it"));
    }
    return text.status();
  }
  nlohmann::json document = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object() || document.value("order_id", nlohmann::json()) != order_id ||
      !document.contains("targets") || !document["targets"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(plan_path.string(), ": not the plan document of order ", order_id));
  }
  PlanApproval approval{.plan_sha256 = common::DigestHex(common::Sha256Of(*text)),
                        .approved_by = approved_by,
                        .approved_at = approved_at};
  const nlohmann::ordered_json record = {{"order_id", order_id},
                                         {"plan_sha256", approval.plan_sha256},
                                         {"approved_by", approval.approved_by},
                                         {"approved_at", approval.approved_at}};
  const fs::path approval_path = ApprovalPath(data_dir, order_id);
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(approval_path, Dump(record), 0644));
  common::AuditEvent("wipe_plan_approved", {{"order_id", order_id},
                                            {"plan_sha256", approval.plan_sha256},
                                            {"approved_by", approval.approved_by},
                                            {"approved_at", approval.approved_at}});
  return ApprovedPlan{.approval = std::move(approval),
                      .document = std::move(document),
                      .approval_path = approval_path};
}

}  // namespace offboard::agent
