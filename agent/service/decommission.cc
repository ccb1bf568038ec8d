#include "agent/service/decommission.h"

#include <fcntl.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/identity/agent_key.h"
#include "agent/identity/decommission_record.h"
#include "agent/service/outbox.h"
#include "agent/service/plan_approval.h"
#include "agent/wipe/confined_file.h"
#include "agent/wipe/deletion_attestation.h"
#include "agent/wipe/file_destroyer.h"
#include "agent/wipe/storage_probe.h"
#include "agent/wipe/wipe_journal.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

// Keys are small and their names are no secret: one random pass read back
// from the medium, then truncate and unlink, without renames (a crash after
// the pass leaves random bytes under the old name, for the next attempt).
offboard::v1::WipePolicy KeyDestructionPolicy() {
  offboard::v1::WipePolicy policy;
  policy.set_name("key-destruction");
  policy.add_passes()->set_pattern(offboard::v1::PASS_PATTERN_RANDOM);
  policy.set_verification(offboard::v1::VERIFICATION_LAST);
  policy.set_rename_rounds(0);
  return policy;
}

// A private key file, opened below the data directory before anything is
// asked of the controller; nullopt in `file` when it is gone already.
struct KeyFile {
  std::string path;
  std::optional<ConfinedFile> file;
};

absl::StatusOr<std::vector<KeyFile>> OpenKeyFiles(const WipeRoot& dir) {
  std::vector<KeyFile> keys;
  const fs::path root(dir.path());
  for (const fs::path& path : {AttestationKeyPath(root), EnrollmentPaths(root).TlsKey()}) {
    KeyFile key{.path = path.string(), .file = std::nullopt};
    absl::StatusOr<ConfinedFile> file = dir.OpenFile(key.path, O_RDWR);
    if (file.ok()) {
      key.file = *std::move(file);
    } else if (file.status().code() != absl::StatusCode::kNotFound) {
      return absl::Status(file.status().code(),
                          absl::StrCat("cannot destroy the key safely: ", file.status().message(),
                                       "; nothing was changed"));
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

absl::Status DestroyKeys(std::vector<KeyFile>& keys, DecommissionReport& report) {
  const offboard::v1::WipePolicy policy = KeyDestructionPolicy();
  const StepJournal no_journal = [](const nlohmann::json&) { return absl::OkStatus(); };
  for (KeyFile& key : keys) {
    if (!key.file) {
      report.absent.push_back(key.path);
      continue;
    }
    OFFBOARD_ASSIGN_OR_RETURN(const DestroyOutcome outcome,
                              DestroyFile(*key.file, policy, DestroyState{}, no_journal, key.path));
    common::AuditEvent("agent_key_destroyed",
                       {{"path", key.path},
                        {"passes", absl::StrCat(outcome.passes.size())},
                        {"verified", !outcome.passes.empty() && outcome.passes.back().verified
                                         ? outcome.passes.back().verify_method
                                         : "no"},
                        {"assurance", common::AssuranceName(outcome.assurance)}});
    report.destroyed.push_back(key.path);
  }
  return absl::OkStatus();
}

std::string Rfc3339(const google::protobuf::Timestamp& timestamp) {
  return google::protobuf::util::TimeUtil::ToString(timestamp);
}

// The fields of the pending file or the record, as written by Record().
nlohmann::ordered_json Record(const DecommissionReport& report) {
  nlohmann::ordered_json record = {{"agent_id", report.agent_id},
                                   {"vendor_id", report.vendor_id},
                                   {"host_id", report.host_id},
                                   {"controller", report.controller},
                                   {"banned_at_controller", report.banned_at_controller},
                                   {"already_banned", report.already_banned},
                                   {"forced_past", report.forced_past}};
  if (!report.decommissioned_at.empty()) {
    record["decommissioned_at"] = report.decommissioned_at;
    std::vector<std::string> destroyed = report.destroyed;
    destroyed.insert(destroyed.end(), report.absent.begin(), report.absent.end());
    record["keys_destroyed"] = destroyed;
  }
  return record;
}

absl::StatusOr<DecommissionReport> ReadPending(const fs::path& path) {
  OFFBOARD_ASSIGN_OR_RETURN(const std::string text, common::ReadFileToString(path, 1 << 20));
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  DecommissionReport report;
  for (auto [key, field] : {std::pair<const char*, std::string*>{"agent_id", &report.agent_id},
                            {"vendor_id", &report.vendor_id},
                            {"host_id", &report.host_id},
                            {"controller", &report.controller},
                            {"banned_at_controller", &report.banned_at_controller}}) {
    if (!json.is_object() || !json.contains(key) || !json[key].is_string()) {
      return absl::DataLossError(
          absl::StrCat(path.string(), ": field '", key, "' missing or not a string"));
    }
    *field = json[key].get<std::string>();
  }
  report.already_banned = json.value("already_banned", false);
  if (json.contains("forced_past") && json["forced_past"].is_array()) {
    for (const nlohmann::json& item : json["forced_past"]) {
      if (item.is_string()) report.forced_past.push_back(item.get<std::string>());
    }
  }
  report.resumed = true;
  return report;
}

std::string Json(const nlohmann::ordered_json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> DecommissionBlockers(const fs::path& data_dir,
                                                              size_t journal_records) {
  std::vector<std::string> blockers;
  if (journal_records > 0) {
    blockers.push_back(absl::StrCat("an unfinished wipe is recorded in ",
                                    (data_dir / "wipe-journal.jsonl").string(),
                                    "; `offboard-agent run` finishes it"));
  }
  const Outbox outbox(data_dir);
  const fs::path orders_dir = data_dir / "orders";
  boost::system::error_code error;
  std::vector<std::string> order_ids;
  if (fs::is_directory(orders_dir, error)) {
    for (fs::directory_iterator it(orders_dir, error), end; !error && it != end;
         it.increment(error)) {
      order_ids.push_back(it->path().filename().string());
    }
    if (error) {
      return absl::InternalError(absl::StrCat("list ", orders_dir.string(), ": ", error.message()));
    }
  }
  std::sort(order_ids.begin(), order_ids.end());
  for (const std::string& order_id : order_ids) {
    if (outbox.HasReceipt(order_id)) continue;
    const fs::path dir = orders_dir / order_id;
    if (const std::optional<fs::path> refused = outbox.Refusal(order_id)) {
      blockers.push_back(absl::StrCat("order ", order_id,
                                      ": its attestation was refused by the "
                                      "controller (",
                                      refused->string(), ")"));
    } else if (fs::exists(dir / "done", error)) {
      blockers.push_back(absl::StrCat("order ", order_id,
                                      ": wiped, but the controller has not answered its "
                                      "attestation with a receipt yet"));
    } else if (fs::exists(PlanPath(data_dir, order_id), error)) {
      blockers.push_back(absl::StrCat("order ", order_id, ": its plan awaits approval (",
                                      ApproveCommand(data_dir, order_id), "); nothing was wiped"));
    } else {
      blockers.push_back(absl::StrCat("order ", order_id, ": not finished"));
    }
  }
  OFFBOARD_ASSIGN_OR_RETURN(const std::vector<std::string> pending, outbox.Pending());
  if (!pending.empty()) {
    blockers.push_back(absl::StrCat(pending.size(), " attestation(s) or parts wait in ",
                                    (data_dir / "outbox").string(),
                                    " for delivery; `offboard-agent run --once` delivers them"));
  }
  return blockers;
}

absl::StatusOr<DecommissionReport> DecommissionAgent(const DecommissionOptions& options,
                                                     const DecommissionCall& call) {
  const fs::path data_dir = fs::absolute(options.data_dir);
  const fs::path record_path = DecommissionRecordPath(data_dir);
  const fs::path pending_path = DecommissionPendingPath(data_dir);
  boost::system::error_code error;
  if (fs::exists(record_path, error)) return CheckNotDecommissioned(data_dir);
  const bool resuming = fs::exists(pending_path, error);
  std::optional<Enrollment> enrollment;
  if (!resuming) {
    OFFBOARD_ASSIGN_OR_RETURN(enrollment, LoadEnrollment(data_dir));
  }
  // Held to the end: no wipe may start (or be running) while the keys go.
  absl::StatusOr<WipeJournal> journal = WipeJournal::Open(data_dir / "wipe-journal.jsonl");
  if (!journal.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot take the wipe journal of ", data_dir.string(),
        " (is `offboard-agent run` wiping? stop it first): ", journal.status().message()));
  }
  OFFBOARD_ASSIGN_OR_RETURN(const WipeRoot root, WipeRoot::Open(data_dir));

  DecommissionReport report;
  if (resuming) {
    // The controller answered before a crash: finish what is left.
    OFFBOARD_ASSIGN_OR_RETURN(report, ReadPending(pending_path));
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<KeyFile> keys, OpenKeyFiles(root));
    OFFBOARD_RETURN_IF_ERROR(DestroyKeys(keys, report));
  } else {
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<std::string> blockers,
                              DecommissionBlockers(data_dir, journal->records().size()));
    if (!blockers.empty() && !options.force) {
      return absl::FailedPreconditionError(absl::StrCat(
          "agent ", enrollment->agent_id,
          " cannot be decommissioned yet: ", absl::StrJoin(blockers, "; "),
          ". Nothing was changed (--force decommissions anyway, leaving those unanswered)"));
    }
    // Opened now, so that a key that cannot be destroyed safely stops us
    // before the controller bans anything.
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<KeyFile> keys, OpenKeyFiles(root));
    absl::StatusOr<offboard::v1::DecommissionResponse> answer = call(*enrollment);
    if (!answer.ok()) {
      return absl::Status(answer.status().code(),
                          absl::StrCat(answer.status().message(), "; nothing was destroyed"));
    }
    if (answer->agent_id() != enrollment->agent_id) {
      return absl::InternalError(absl::StrCat("the controller banned agent ", answer->agent_id(),
                                              ", not ", enrollment->agent_id,
                                              "; nothing was destroyed"));
    }
    report.agent_id = enrollment->agent_id;
    report.vendor_id = enrollment->vendor_id;
    report.host_id = enrollment->host_id;
    report.controller = enrollment->endpoint.address;
    report.banned_at_controller = Rfc3339(answer->banned_at());
    report.already_banned = answer->already_banned();
    report.forced_past = std::move(blockers);
    OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(pending_path, Json(Record(report))));
    common::AuditEvent("agent_banned_by_controller",
                       {{"agent_id", report.agent_id},
                        {"controller", report.controller},
                        {"banned_at", report.banned_at_controller},
                        {"forced", report.forced_past.empty() ? "false" : "true"}});
    OFFBOARD_RETURN_IF_ERROR(DestroyKeys(keys, report));
  }
  report.decommissioned_at = NowRfc3339();
  report.record = record_path;
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(record_path, Json(Record(report))));
  fs::remove(pending_path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("remove ", pending_path.string(), ": ", error.message(),
                                            " (the keys are destroyed)"));
  }
  common::AuditEvent("agent_decommissioned",
                     {{"agent_id", report.agent_id},
                      {"record", record_path.string()},
                      {"keys_destroyed", absl::StrCat(report.destroyed.size())}});
  return report;
}

}  // namespace offboard::agent
