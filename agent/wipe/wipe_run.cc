#include "agent/wipe/wipe_run.h"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/identity/agent_key.h"
#include "agent/wipe/confined_file.h"
#include "agent/wipe/deletion_attestation.h"
#include "agent/wipe/file_destroyer.h"
#include "agent/wipe/wipe_journal.h"
#include "agent/wipe/wipe_plan.h"
#include "agent/wipe/wipe_report_json.h"
#include "common/dsse/envelope.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

}  // namespace

std::vector<WipeItem> ResidualItems(const std::vector<WipeItem>& items, const ScanReport& post) {
  // Keyed by where the copy is and whose it is, not by how it was matched:
  // the same file found by content and by its tag is one copy.
  using Key = std::tuple<std::string, std::vector<std::string>, std::string>;
  std::set<Key> not_wiped;
  for (const WipeItem& item : items) {
    if (item.outcome.status != ItemStatus::kWiped) {
      not_wiped.emplace(item.finding.path, item.finding.member, item.finding.dataset_id);
    }
  }
  std::vector<WipeItem> residual;
  for (const Finding& finding : post.findings) {
    if (not_wiped.contains(Key(finding.path, finding.member, finding.dataset_id))) continue;
    residual.push_back({finding, MakeOutcome(ItemStatus::kResidual, "none",
                                             "still found by the scan after the wipe")});
  }
  return residual;
}

namespace {

std::string SignStatement(const common::InTotoStatement& statement,
                          const common::Ed25519PrivateKey& key) {
  return common::SerializeDsseEnvelope(
      common::SignDsse(common::kInTotoPayloadType, common::SerializeStatement(statement), key));
}

// Signs the statement and writes the envelope into `result`; and its parts,
// when it is larger than `max_envelope_bytes` (not 0) and can be cut so.
absl::Status WriteAttestation(const fs::path& data_dir, const DeletionRun& run,
                              const offboard::v1::WipePolicy& policy,
                              const common::Ed25519PrivateKey& key, size_t max_envelope_bytes,
                              WipeRunResult& result) {
  const fs::path dir = data_dir / "attestations";
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(dir));
  std::string envelope = SignStatement(BuildDeletionStatement(run, policy), key);
  const fs::path path = dir / absl::StrCat(run.run_id, ".dsse.json");
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(path, envelope, 0644));
  result.attestation_path = path.string();
  result.attestation_envelope = std::move(envelope);
  if (max_envelope_bytes == 0 || result.attestation_envelope.size() <= max_envelope_bytes) {
    return absl::OkStatus();
  }
  // A DSSE envelope carries its payload in base64 (4 bytes for 3), beside a
  // signature and a few keys; a part that still comes out too large is cut
  // again with less room.
  size_t payload_bytes = (max_envelope_bytes - std::min<size_t>(max_envelope_bytes, 1024)) / 4 * 3;
  absl::Status cut = absl::OkStatus();
  for (int attempt = 0; attempt < 4; ++attempt, payload_bytes = payload_bytes / 10 * 9) {
    absl::StatusOr<std::vector<common::InTotoStatement>> statements =
        BuildDeletionStatementParts(run, policy, payload_bytes);
    if (!statements.ok()) {
      cut = statements.status();
      break;
    }
    std::vector<std::string> parts;
    for (const common::InTotoStatement& statement : *statements) {
      parts.push_back(SignStatement(statement, key));
      if (parts.back().size() > max_envelope_bytes) break;
    }
    if (parts.back().size() > max_envelope_bytes) {
      cut = absl::ResourceExhaustedError(
          absl::StrCat("a part came out larger than ", max_envelope_bytes, " bytes"));
      continue;
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      const fs::path part_path =
          dir / absl::StrFormat("%s.part-%05d-of-%05d.dsse.json", run.run_id, i + 1, parts.size());
      OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(part_path, parts[i], 0644));
      result.attestation_part_paths.push_back(part_path.string());
    }
    result.attestation_parts = std::move(parts);
    return absl::OkStatus();
  }
  // The wipe is done and the whole attestation is signed and kept: it goes
  // out whole, and where no message can carry it the outbox sets it aside
  // with its reason. Failing the run instead would fail every retry alike.
  common::AuditEvent("attestation_not_cut",
                     {{"run_id", run.run_id},
                      {"bytes", absl::StrCat(result.attestation_envelope.size())},
                      {"limit", absl::StrCat(max_envelope_bytes)},
                      {"reason", std::string(cut.message())}});
  return absl::OkStatus();
}

nlohmann::json ApprovalToJson(const PlanApproval& approval) {
  return {{"plan_sha256", approval.plan_sha256},
          {"approved_by", approval.approved_by},
          {"approved_at", approval.approved_at}};
}

// The approval a journaled run started with; nullopt when it needed none.
absl::StatusOr<std::optional<PlanApproval>> ApprovalFromJournal(const nlohmann::json& start) {
  if (!start.contains("approval")) return std::nullopt;
  const nlohmann::json& json = start["approval"];
  PlanApproval approval;
  for (auto [key, field] :
       {std::pair<const char*, std::string*>{"plan_sha256", &approval.plan_sha256},
        {"approved_by", &approval.approved_by},
        {"approved_at", &approval.approved_at}}) {
    if (!json.is_object() || !json.contains(key) || !json[key].is_string()) {
      return absl::DataLossError(
          absl::StrCat("wipe journal: the run's approval lacks '", key, "'"));
    }
    *field = json[key].get<std::string>();
  }
  return approval;
}

fs::path ReportPath(const fs::path& data_dir, const std::string& run_id) {
  return data_dir / "reports" / absl::StrCat(run_id, ".json");
}

// The first record of a journal's text, its run_started; discarded (not an
// object) if it cannot be read.
nlohmann::json JournalStart(const std::string& journal_text) {
  return nlohmann::json::parse(journal_text.substr(0, journal_text.find('\n')), nullptr,
                               /*allow_exceptions=*/false);
}

// The request digest a journal's text starts its run with; "" if none.
std::string JournaledRequest(const nlohmann::json& start) {
  if (!start.is_object() || !start.contains("arguments") || !start["arguments"].is_string()) {
    return "";
  }
  return start["arguments"].get<std::string>();
}

// A finished run of `digest` among the kept journals, or nullopt.
absl::StatusOr<std::optional<WipeRunResult>> FinishedRun(const fs::path& data_dir,
                                                         const std::string& digest) {
  boost::system::error_code error;
  const fs::path dir = data_dir / "journal";
  if (!fs::is_directory(dir, error)) return std::nullopt;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    OFFBOARD_ASSIGN_OR_RETURN(std::string text, common::ReadFileToString(entry.path()));
    const nlohmann::json start = JournalStart(text);
    if (JournaledRequest(start) != digest) continue;
    const std::string run_id = start.value("run_id", "");
    absl::StatusOr<std::string> report_text =
        common::ReadFileToString(ReportPath(data_dir, run_id));
    if (!report_text.ok()) continue;  // a run kept before reports were
    WipeRunResult result;
    result.run_id = run_id;
    result.replayed = true;
    result.report = nlohmann::ordered_json::parse(*report_text, nullptr, false);
    if (!result.report.is_object()) {
      return absl::DataLossError(absl::StrCat("report of run ", run_id, " is damaged"));
    }
    result.attestation_path = result.report.value("attestation", "");
    OFFBOARD_ASSIGN_OR_RETURN(result.attestation_envelope,
                              common::ReadFileToString(result.attestation_path));
    if (const auto parts = result.report.find("attestation_parts");
        parts != result.report.end() && parts->is_array()) {
      for (const auto& part : *parts) {
        if (!part.is_string()) {
          return absl::DataLossError(absl::StrCat("report of run ", run_id, " is damaged"));
        }
        result.attestation_part_paths.push_back(part.get<std::string>());
        OFFBOARD_ASSIGN_OR_RETURN(std::string envelope,
                                  common::ReadFileToString(result.attestation_part_paths.back()));
        result.attestation_parts.push_back(std::move(envelope));
      }
    }
    bool complete = result.report["errors"].empty() &&
                    result.report["post_wipe_scan"]["errors"].empty();
    for (const auto& item : result.report["items"]) complete = complete && item.value("status", "") == "wiped";
    result.replayed_complete = complete;
    return result;
  }
  return std::nullopt;
}

}  // namespace

bool WipeRunResult::complete() const {
  if (replayed) return replayed_complete;
  return first_scan.errors.empty() && post_scan.errors.empty() &&
         std::all_of(items.begin(), items.end(), [](const WipeItem& item) {
           return item.outcome.status == ItemStatus::kWiped;
         });
}

ScanOptions ScanOptionsFor(const offboard::v1::WipePolicy& policy,
                           const std::vector<std::string>& roots, bool cross_filesystems,
                           unsigned threads) {
  ScanOptions options;
  options.roots.assign(roots.begin(), roots.end());
  // The policy's scan limits bound discovery (a signed order carries them).
  const offboard::v1::ScanLimits& limits = policy.scan_limits();
  options.limits.max_depth = limits.max_archive_depth();
  options.limits.max_member_bytes = limits.max_member_bytes();
  options.limits.max_archive_bytes = limits.max_archive_bytes();
  options.limits.max_compression_ratio = limits.max_compression_ratio();
  options.limits.per_file_timeout = std::chrono::seconds(limits.per_file_timeout_seconds());
  options.cross_filesystems = cross_filesystems || limits.cross_filesystems();
  options.threads = threads;
  return options;
}

absl::StatusOr<bool> HasRunFor(const fs::path& data_dir, const std::string& request_digest) {
  const fs::path dir = fs::absolute(data_dir);
  absl::StatusOr<std::string> open = common::ReadFileToString(dir / "wipe-journal.jsonl");
  if (open.ok() && !request_digest.empty() &&
      JournaledRequest(JournalStart(*open)) == request_digest) {
    return true;
  }
  if (!open.ok() && !absl::IsNotFound(open.status())) return open.status();
  OFFBOARD_ASSIGN_OR_RETURN(std::optional<WipeRunResult> finished,
                            FinishedRun(dir, request_digest));
  return finished.has_value();
}

absl::StatusOr<WipeRunResult> ExecuteWipeRun(const WipeRunRequest& request) {
  std::vector<WipeRoot> roots;
  std::vector<std::string> root_paths;
  for (const std::string& root : request.roots) {
    OFFBOARD_ASSIGN_OR_RETURN(WipeRoot opened, WipeRoot::Open(fs::absolute(root)));
    root_paths.push_back(opened.path());
    roots.push_back(std::move(opened));
  }
  const ScanOptions scan_options =
      ScanOptionsFor(request.policy, root_paths, request.cross_filesystems, request.threads);
  const fs::path data_dir = fs::absolute(request.data_dir);
  OFFBOARD_ASSIGN_OR_RETURN(AgentKey key, LoadOrCreateAttestationKey(data_dir));
  const fs::path journal_path = data_dir / "wipe-journal.jsonl";
  OFFBOARD_ASSIGN_OR_RETURN(WipeJournal journal, WipeJournal::Open(journal_path));
  if (!request.order_id.empty() && journal.records().empty()) {
    OFFBOARD_ASSIGN_OR_RETURN(std::optional<WipeRunResult> finished,
                              FinishedRun(data_dir, request.request_digest));
    if (finished) {
      common::AuditEvent("wipe_replayed", {{"run_id", finished->run_id}, {"order_id", request.order_id}});
      return *std::move(finished);
    }
  }

  // A journal with a run in it is an interrupted wipe: finish it, by its plan.
  WipeRunResult result;
  std::string started_at;
  WipePlan plan;
  std::optional<PlanApproval> approval;
  if (!journal.records().empty()) {
    const nlohmann::json& start = journal.records().front();
    if (start.value("step", "") != "run_started" ||
        start.value("arguments", "") != request.request_digest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "an unfinished wipe (run ", start.value("run_id", "?"), ", started ",
          start.value("started_at", "?"), ") is recorded in ", journal_path.string(),
          " for another request; run that one again to finish it"));
    }
    // The interrupted run may have destroyed data already: a journal that
    // cannot be read back is lost evidence (DATA_LOSS, exit 1), never bad
    // input with nothing changed.
    const auto damaged = [&](const absl::Status& status) {
      return absl::DataLossError(
          absl::StrCat("the journal ", journal_path.string(),
                       " of an interrupted wipe is damaged: ", status.message()));
    };
    absl::StatusOr<WipePlan> journaled_plan = PlanFromJson(start["plan"]);
    if (!journaled_plan.ok()) return damaged(journaled_plan.status());
    plan = *std::move(journaled_plan);
    OFFBOARD_ASSIGN_OR_RETURN(approval, ApprovalFromJournal(start));
    result.run_id = start["run_id"].get<std::string>();
    started_at = start["started_at"].get<std::string>();
    result.resumed = true;
    for (const WipeTarget& target : plan.targets) {
      result.first_scan.findings.insert(result.first_scan.findings.end(), target.findings.begin(),
                                        target.findings.end());
    }
    // Journals written before the errors were kept have none to restore.
    if (start.contains("first_scan_errors")) {
      absl::StatusOr<std::vector<ScanError>> errors =
          ScanErrorsFromJson(start["first_scan_errors"]);
      if (!errors.ok()) return damaged(errors.status());
      result.first_scan.errors = *std::move(errors);
    }
    common::AuditEvent("wipe_resumed", {{"run_id", result.run_id}});
  } else {
    OFFBOARD_ASSIGN_OR_RETURN(result.first_scan, request.scan(scan_options));
    plan = PlanWipe(result.first_scan.findings, request.policy);
    if (request.plan_gate) {
      OFFBOARD_ASSIGN_OR_RETURN(const PlanVerdict verdict,
                                request.plan_gate(plan, result.first_scan));
      if (!verdict.proceed) {
        result.held = true;
        return result;
      }
      approval = verdict.approval;
    }
    result.run_id = RandomFileName(24);
    started_at = NowRfc3339();
    nlohmann::json start = {{"step", "run_started"},
                            {"run_id", result.run_id},
                            {"started_at", started_at},
                            {"arguments", request.request_digest},
                            {"order_id", request.order_id},
                            {"policy", request.policy.name()},
                            {"plan", PlanToJson(plan)},
                            {"first_scan_errors", ScanErrorsToJson(result.first_scan.errors)}};
    if (approval) start["approval"] = ApprovalToJson(*approval);
    OFFBOARD_RETURN_IF_ERROR(journal.Append(std::move(start)));
  }

  // From here on data may have been destroyed. A failure is then no "nothing
  // was changed" (which INVALID_ARGUMENT and its kind mean to the command
  // line and to the order runner) but an unfinished run, whose journal lets
  // the same request finish it: ABORTED, naming the run and the journal.
  const absl::Status finished = [&]() -> absl::Status {
    WipeEngine engine(roots, request.policy, request.fingerprints, scan_options.cross_filesystems);
    OFFBOARD_ASSIGN_OR_RETURN(result.items, engine.Execute(plan, journal));
    for (const WipeItem& item : result.items) {
      common::AuditEvent(
          "wipe_item",
          {{"run_id", result.run_id},
           {"path", item.finding.path},
           {"dataset_id", item.finding.dataset_id},
           {"status", ItemStatusName(item.outcome.status)},
           {"assurance",
            item.outcome.assurance ? common::AssuranceName(*item.outcome.assurance) : "-"},
           {"reason", item.outcome.reason}});
    }
    OFFBOARD_ASSIGN_OR_RETURN(result.post_scan, request.scan(scan_options));
    for (WipeItem& residual : ResidualItems(result.items, result.post_scan)) {
      result.items.push_back(std::move(residual));
    }

    DeletionRun run;
    run.run_id = result.run_id;
    run.order_id = request.order_id;
    run.nonce = request.nonce_hex;
    run.started_at = started_at;
    run.finished_at = NowRfc3339();
    run.roots = root_paths;
    run.inventory_sha256 = request.inventory_sha256;
    run.agent_version = request.agent_version;
    run.agent_key_id = key.key.PublicKey().KeyId();
    run.host = ReadHostFacts();
    run.items = result.items;
    run.post_scan_stats = result.post_scan.stats;
    run.post_scan_errors = result.post_scan.errors;
    run.approval = approval;
    OFFBOARD_RETURN_IF_ERROR(WriteAttestation(data_dir, run, request.policy, key.key,
                                              request.max_envelope_bytes, result));
    result.report = WipeReportToJson(result.first_scan, result.items, result.post_scan,
                                     result.attestation_path);
    if (!result.attestation_part_paths.empty()) {
      result.report["attestation_parts"] = result.attestation_part_paths;
    }
    if (!request.order_id.empty()) result.report["order_id"] = request.order_id;

    // The run is complete: keep its report and journal as a record, out of the
    // way of the next run.
    OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(data_dir / "reports"));
    OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(
        ReportPath(data_dir, result.run_id),
        result.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", 0644));
    return journal.Append({{"step", "finished"}, {"attestation", result.attestation_path}});
  }();
  if (!finished.ok()) {
    return absl::AbortedError(absl::StrCat("wipe run ", result.run_id, " did not finish (",
                                           finished.message(), "); ", journal_path.string(),
                                           " records what was done: run the same request again "
                                           "to finish it"));
  }
  // Kept durably: a journal still in place after a power loss would make the
  // next order wait for a run that is over.
  const absl::Status kept = [&]() -> absl::Status {
    OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(data_dir / "journal"));
    boost::system::error_code error;
    fs::rename(journal_path, data_dir / "journal" / absl::StrCat(result.run_id, ".jsonl"), error);
    if (error) return absl::InternalError(error.message());
    OFFBOARD_RETURN_IF_ERROR(common::SyncDirectory(data_dir / "journal"));
    return common::SyncDirectory(data_dir);
  }();
  if (!kept.ok()) {
    return absl::InternalError(
        absl::StrCat("keep the journal of run ", result.run_id, ": ", kept.message()));
  }
  common::AuditEvent("wipe_completed",
                     {{"run_id", result.run_id},
                      {"order_id", request.order_id.empty() ? "-" : request.order_id},
                      {"items", absl::StrCat(result.items.size())},
                      {"summary", ItemSummary(result.items).dump()},
                      {"attestation", result.attestation_path}});
  return result;
}

}  // namespace offboard::agent
