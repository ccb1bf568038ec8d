#include "agent/wipe/deletion_attestation.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/scan/scan_report_json.h"
#include "agent/wipe/wipe_report_json.h"
#include "common/encoding/rfc3339.h"
#include "common/reconcile/attestation_parts.h"
#include "common/status/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace offboard::agent {
namespace {

// The subject name of an item: the path, then "!" and each member name, so
// that "backup.tar.gz!2024/export.zip!customers.csv" names a nested member.
// Names that are not UTF-8 carry U+FFFD here; the item's path_hex is exact.
std::string SubjectName(const Finding& finding) {
  const std::string raw = finding.member.empty()
                              ? finding.path
                              : absl::StrCat(finding.path, "!", absl::StrJoin(finding.member, "!"));
  nlohmann::ordered_json holder;
  AddFileName(holder, "name", raw);
  return holder["name"].get<std::string>();
}

nlohmann::ordered_json ErrorToJson(const ScanError& error) {
  nlohmann::ordered_json entry;
  AddFileName(entry, "path", error.path);
  if (!error.member.empty()) AddMemberChain(entry, error.member);
  entry["reason"] = error.reason;
  return entry;
}

nlohmann::json ToJson(const nlohmann::ordered_json& ordered) {
  return nlohmann::json::parse(
      ordered.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

HostFacts ReadHostFacts() {
  HostFacts facts;
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) == 0) facts.hostname = name;
  std::ifstream machine_id("/etc/machine-id");
  std::getline(machine_id, facts.machine_id);
  facts.machine_id = std::string(absl::StripAsciiWhitespace(facts.machine_id));
  struct utsname uts {};
  if (::uname(&uts) == 0) facts.kernel = uts.release;
  return facts;
}

std::string NowRfc3339() { return common::UnixToRfc3339(std::time(nullptr)); }

nlohmann::json PolicyToJson(const offboard::v1::WipePolicy& policy) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(policy, &json, options);
  return nlohmann::json::parse(json, nullptr, false);
}

namespace {

// The statement of `run` with these of its items and post-wipe scan errors
// (all of them, or one part's).
common::InTotoStatement BuildStatement(const DeletionRun& run,
                                       const std::vector<WipeItem>& run_items,
                                       const std::vector<ScanError>& post_scan_errors,
                                       const offboard::v1::WipePolicy& policy) {
  common::InTotoStatement statement;
  statement.predicate_type = std::string(common::kDeletionPredicateType);
  nlohmann::json items = nlohmann::json::array();
  std::set<std::pair<std::string, std::string>> subjects_seen;
  for (const WipeItem& item : run_items) {
    items.push_back(ToJson(WipeItemToJson(item)));
    // One subject per destroyed content, however many findings named it
    // (an exact copy that is also a derived copy).
    if (item.outcome.status == ItemStatus::kWiped && !item.finding.sha256.empty() &&
        subjects_seen.insert({SubjectName(item.finding), item.finding.sha256}).second) {
      statement.subjects.push_back(
          {.name = SubjectName(item.finding), .digest = {{"sha256", item.finding.sha256}}});
    }
  }
  if (statement.subjects.empty()) {
    // in-toto needs a subject; with nothing destroyed, the statement is about
    // the inventory that was searched for.
    statement.subjects.push_back({.name = "inventory", .digest = {{"sha256", run.inventory_sha256}}});
  }
  nlohmann::json errors = nlohmann::json::array();
  for (const ScanError& error : post_scan_errors) errors.push_back(ToJson(ErrorToJson(error)));
  const bool standalone = run.order_id.empty();
  statement.predicate = {
      {"run_id", run.run_id},
      {"order_id", run.order_id},
      {"nonce", run.nonce},
      {"standalone", standalone},
      {"started_at", run.started_at},
      {"finished_at", run.finished_at},
      {"roots", run.roots},
      {"inventory_sha256", run.inventory_sha256},
      {"agent", {{"version", run.agent_version}, {"key_id", run.agent_key_id}}},
      {"host",
       {{"hostname", run.host.hostname},
        {"machine_id", run.host.machine_id},
        {"kernel", run.host.kernel}}},
      {"policy", PolicyToJson(policy)},
      {"items", items},
      {"summary", ToJson(ItemSummary(run_items))},
      {"post_wipe_scan",
       {{"files_scanned", run.post_scan_stats.files_scanned},
        {"bytes_read", run.post_scan_stats.bytes_read},
        {"residual", std::count_if(run_items.begin(), run_items.end(),
                                   [](const WipeItem& item) {
                                     return item.outcome.status == ItemStatus::kResidual;
                                   })},
        {"errors", errors}}},
  };
  if (run.approval) {
    statement.predicate["approval"] = {{"plan_sha256", run.approval->plan_sha256},
                                       {"approved_by", run.approval->approved_by},
                                       {"approved_at", run.approval->approved_at}};
  }
  return statement;
}

// What an item adds to a statement's JSON, about: its entry and its subject.
size_t ItemBytes(const WipeItem& item) {
  size_t bytes =
      WipeItemToJson(item).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() +
      1;
  if (item.outcome.status == ItemStatus::kWiped && !item.finding.sha256.empty()) {
    const nlohmann::json subject = {{"name", SubjectName(item.finding)},
                                    {"digest", {{"sha256", item.finding.sha256}}}};
    bytes += subject.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() + 1;
  }
  return bytes;
}

size_t ErrorBytes(const ScanError& error) {
  return ErrorToJson(error).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() +
         1;
}

}  // namespace

common::InTotoStatement BuildDeletionStatement(const DeletionRun& run,
                                               const offboard::v1::WipePolicy& policy) {
  return BuildStatement(run, run.items, run.post_scan_errors, policy);
}

absl::StatusOr<std::vector<common::InTotoStatement>> BuildDeletionStatementParts(
    const DeletionRun& run, const offboard::v1::WipePolicy& policy, size_t max_payload_bytes) {
  const std::vector<WipeItem> no_items;
  const std::vector<ScanError> no_errors;
  // What every part carries: the run's facts, and "part" itself.
  const size_t shared =
      common::SerializeStatement(BuildStatement(run, no_items, no_errors, policy)).size() + 64;
  if (shared >= max_payload_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("the attestation's run facts alone take ",
                                                     shared, " bytes, more than the ",
                                                     max_payload_bytes, " one part may hold"));
  }
  const size_t room = max_payload_bytes - shared;
  // Greedy: items, then errors, each part as full as it may be.
  struct Range {
    size_t items_begin, items_end, errors_begin, errors_end;
  };
  std::vector<Range> ranges;
  Range current{0, 0, 0, 0};
  size_t used = 0;
  const auto add = [&](size_t bytes, absl::string_view what, size_t index) -> absl::Status {
    if (bytes > room) {
      return absl::ResourceExhaustedError(absl::StrCat(what, " ", index, " alone takes ", bytes,
                                                       " bytes, more than a part may hold"));
    }
    if (used + bytes > room) {
      ranges.push_back(current);
      current = {current.items_end, current.items_end, current.errors_end, current.errors_end};
      used = 0;
    }
    used += bytes;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < run.items.size(); ++i) {
    OFFBOARD_RETURN_IF_ERROR(add(ItemBytes(run.items[i]), "item", i));
    ++current.items_end;
  }
  for (size_t i = 0; i < run.post_scan_errors.size(); ++i) {
    OFFBOARD_RETURN_IF_ERROR(add(ErrorBytes(run.post_scan_errors[i]), "post-wipe scan error", i));
    ++current.errors_end;
  }
  ranges.push_back(current);
  if (ranges.size() > common::kMaxAttestationParts) {
    return absl::ResourceExhaustedError(absl::StrCat("the attestation needs ", ranges.size(),
                                                     " parts, more than ",
                                                     common::kMaxAttestationParts));
  }

  std::vector<common::InTotoStatement> parts;
  parts.reserve(ranges.size());
  for (size_t k = 0; k < ranges.size(); ++k) {
    const Range& range = ranges[k];
    const std::vector<WipeItem> items(run.items.begin() + range.items_begin,
                                      run.items.begin() + range.items_end);
    const std::vector<ScanError> errors(run.post_scan_errors.begin() + range.errors_begin,
                                        run.post_scan_errors.begin() + range.errors_end);
    common::InTotoStatement part = BuildStatement(run, items, errors, policy);
    part.predicate["part"] = {{"index", k + 1}, {"count", ranges.size()}};
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace offboard::agent
