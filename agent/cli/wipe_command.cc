#include "agent/cli/wipe_command.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <boost/filesystem/operations.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/cli/discovery.h"
#include "agent/scan/scan_report_json.h"
#include "agent/identity/agent_key.h"
#include "agent/wipe/confined_file.h"
#include "agent/wipe/deletion_attestation.h"
#include "agent/wipe/file_destroyer.h"
#include "agent/wipe/wipe_engine.h"
#include "agent/wipe/wipe_journal.h"
#include "agent/wipe/wipe_plan.h"
#include "agent/wipe/wipe_report_json.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/policy/wipe_policy.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

constexpr char kProgram[] = "offboard-agent wipe";

struct WipeCommandOptions {
  std::string inventory;
  std::vector<std::string> fingerprints;
  std::vector<std::string> roots;
  std::string policy;
  std::string data_dir;
  std::string report;
  bool dry_run = false;
  bool cross_filesystems = false;
  unsigned threads = 0;
};

// Everything that decides what a wipe does, hashed: a journal left by an
// interrupted run is resumed only by the same command.
absl::StatusOr<std::string> ArgumentsDigest(const WipeCommandOptions& options,
                                            const std::vector<std::string>& roots,
                                            const offboard::v1::WipePolicy& policy) {
  common::Sha256 hasher;
  hasher.Update(policy.SerializeAsString());
  for (const std::string& root : roots) hasher.Update(absl::StrCat("root\n", root, "\n"));
  std::vector<std::string> files = {options.inventory};
  files.insert(files.end(), options.fingerprints.begin(), options.fingerprints.end());
  for (const std::string& file : files) {
    OFFBOARD_ASSIGN_OR_RETURN(common::Sha256Digest digest, common::Sha256File(file));
    hasher.Update(absl::StrCat("file\n", common::DigestHex(digest), "\n"));
  }
  return common::DigestHex(hasher.Finish());
}

// The post-wipe scan's findings that the items do not already account for
// (a file left alone on purpose or that failed is not "residual": it never
// claimed to be gone).
std::vector<WipeItem> ResidualItems(const std::vector<WipeItem>& items, const ScanReport& post) {
  std::map<std::string, ItemStatus> not_wiped;
  for (const WipeItem& item : items) {
    if (item.outcome.status != ItemStatus::kWiped) not_wiped[item.finding.path] = item.outcome.status;
  }
  std::vector<WipeItem> residual;
  for (const Finding& finding : post.findings) {
    if (not_wiped.contains(finding.path)) continue;
    residual.push_back({finding, MakeOutcome(ItemStatus::kResidual, "none",
                                             "still found by the scan after the wipe")});
  }
  return residual;
}

absl::StatusOr<std::string> WriteAttestation(const fs::path& data_dir, const DeletionRun& run,
                                             const offboard::v1::WipePolicy& policy,
                                             const common::Ed25519PrivateKey& key) {
  const common::InTotoStatement statement = BuildDeletionStatement(run, policy);
  const common::DsseEnvelope envelope =
      common::SignDsse(common::kInTotoPayloadType, common::SerializeStatement(statement), key);
  const fs::path dir = data_dir / "attestations";
  boost::system::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("create ", dir.string(), ": ", error.message()));
  const fs::path path = dir / absl::StrCat(run.run_id, ".dsse.json");
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(path, common::SerializeDsseEnvelope(envelope),
                                                       0644));
  return path.string();
}

int RunWipe(const WipeCommandOptions& options) {
  absl::StatusOr<offboard::v1::WipePolicy> policy = common::LoadWipePolicy(options.policy);
  if (!policy.ok()) return common::ReportError(kProgram, policy.status());

  std::vector<WipeRoot> roots;
  std::vector<std::string> root_paths;
  for (const std::string& root : options.roots) {
    absl::StatusOr<WipeRoot> opened = WipeRoot::Open(fs::absolute(root));
    if (!opened.ok()) return common::ReportError(kProgram, opened.status());
    root_paths.push_back(opened->path());
    roots.push_back(*std::move(opened));
  }
  absl::StatusOr<DiscoveryInputs> inputs =
      LoadDiscoveryInputs(options.inventory, options.fingerprints);
  if (!inputs.ok()) return common::ReportError(kProgram, inputs.status());
  absl::StatusOr<std::string> arguments = ArgumentsDigest(options, root_paths, *policy);
  if (!arguments.ok()) return common::ReportError(kProgram, arguments.status());

  ScanOptions scan_options;
  scan_options.roots.assign(root_paths.begin(), root_paths.end());
  // The policy's scan limits bound discovery (a signed order carries them).
  const offboard::v1::ScanLimits& limits = policy->scan_limits();
  scan_options.limits.max_depth = limits.max_archive_depth();
  scan_options.limits.max_member_bytes = limits.max_member_bytes();
  scan_options.limits.max_archive_bytes = limits.max_archive_bytes();
  scan_options.limits.max_compression_ratio = limits.max_compression_ratio();
  scan_options.limits.per_file_timeout = std::chrono::seconds(limits.per_file_timeout_seconds());
  scan_options.cross_filesystems = options.cross_filesystems || limits.cross_filesystems();
  scan_options.threads = options.threads;

  const fs::path data_dir = fs::absolute(options.data_dir);
  const fs::path journal_path = data_dir / "wipe-journal.jsonl";
  boost::system::error_code fs_error;
  if (options.dry_run) {
    if (fs::exists(journal_path, fs_error)) {
      std::cout << "note: an unfinished wipe is in " << journal_path.string()
                << "; running without --dry-run resumes it\n";
    }
    absl::StatusOr<ScanReport> scan = RunDiscovery(*inputs, scan_options);
    if (!scan.ok()) return common::ReportError(kProgram, scan.status());
    const WipePlan plan = PlanWipe(scan->findings, *policy);
    std::cout << DescribePlan(plan) << "dry run: nothing was changed\n";
    nlohmann::ordered_json report = ScanReportToJson(*scan);
    report["dry_run"] = true;
    report["plan"] = nlohmann::ordered_json::parse(PlanToJson(plan).dump());
    const absl::Status written = common::WriteFileAtomically(
        options.report,
        report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!written.ok()) return common::ReportError(kProgram, written);
    return scan->errors.empty() ? common::kExitDone : common::kExitAttention;
  }

  absl::StatusOr<AgentKey> key = LoadOrCreateAttestationKey(data_dir);
  if (!key.ok()) return common::ReportError(kProgram, key.status());
  absl::StatusOr<WipeJournal> journal = WipeJournal::Open(journal_path);
  if (!journal.ok()) return common::ReportError(kProgram, journal.status());

  // A journal with a run in it is an interrupted wipe: finish it, by its plan.
  std::string run_id;
  std::string started_at;
  WipePlan plan;
  ScanReport first_scan;
  if (!journal->records().empty()) {
    const nlohmann::json& start = journal->records().front();
    if (start.value("step", "") != "run_started" || start.value("arguments", "") != *arguments) {
      return common::ReportError(
          kProgram, absl::FailedPreconditionError(absl::StrCat(
                        "an unfinished wipe (run ", start.value("run_id", "?"), ", started ",
                        start.value("started_at", "?"), ") is recorded in ", journal_path.string(),
                        " for other arguments; run that wipe again to finish it")));
    }
    absl::StatusOr<WipePlan> resumed = PlanFromJson(start["plan"]);
    if (!resumed.ok()) return common::ReportError(kProgram, resumed.status());
    plan = *std::move(resumed);
    run_id = start["run_id"].get<std::string>();
    started_at = start["started_at"].get<std::string>();
    for (const WipeTarget& target : plan.targets) {
      first_scan.findings.insert(first_scan.findings.end(), target.findings.begin(),
                                 target.findings.end());
    }
    std::cout << "resuming the interrupted wipe " << run_id << " from " << journal_path.string()
              << "\n";
    common::AuditEvent("wipe_resumed", {{"run_id", run_id}});
  } else {
    absl::StatusOr<ScanReport> scan = RunDiscovery(*inputs, scan_options);
    if (!scan.ok()) return common::ReportError(kProgram, scan.status());
    first_scan = *std::move(scan);
    plan = PlanWipe(first_scan.findings, *policy);
    run_id = RandomFileName(24);
    started_at = NowRfc3339();
    const absl::Status appended = journal->Append({{"step", "run_started"},
                                                   {"run_id", run_id},
                                                   {"started_at", started_at},
                                                   {"arguments", *arguments},
                                                   {"policy", policy->name()},
                                                   {"plan", PlanToJson(plan)}});
    if (!appended.ok()) return common::ReportError(kProgram, appended);
  }

  WipeEngine engine(roots, *policy, &inputs->fingerprints, scan_options.cross_filesystems);
  absl::StatusOr<std::vector<WipeItem>> items = engine.Execute(plan, *journal);
  if (!items.ok()) return common::ReportError(kProgram, items.status());
  for (const WipeItem& item : *items) {
    common::AuditEvent(
        "wipe_item",
        {{"run_id", run_id},
         {"path", item.finding.path},
         {"dataset_id", item.finding.dataset_id},
         {"status", ItemStatusName(item.outcome.status)},
         {"assurance", item.outcome.assurance ? AssuranceLevelName(*item.outcome.assurance) : "-"},
         {"reason", item.outcome.reason}});
  }

  absl::StatusOr<ScanReport> post_scan = RunDiscovery(*inputs, scan_options);
  if (!post_scan.ok()) return common::ReportError(kProgram, post_scan.status());
  std::vector<WipeItem> all_items = *std::move(items);
  for (WipeItem& residual : ResidualItems(all_items, *post_scan)) {
    all_items.push_back(std::move(residual));
  }

  DeletionRun run;
  run.run_id = run_id;
  run.started_at = started_at;
  run.finished_at = NowRfc3339();
  run.roots = root_paths;
  absl::StatusOr<common::Sha256Digest> inventory_digest = common::Sha256File(options.inventory);
  if (!inventory_digest.ok()) return common::ReportError(kProgram, inventory_digest.status());
  run.inventory_sha256 = common::DigestHex(*inventory_digest);
  run.agent_version = OFFBOARD_VERSION;
  run.agent_key_id = key->key.PublicKey().KeyId();
  run.host = ReadHostFacts();
  run.items = all_items;
  run.post_scan_stats = post_scan->stats;
  run.post_scan_errors = post_scan->errors;
  absl::StatusOr<std::string> attestation = WriteAttestation(data_dir, run, *policy, key->key);
  if (!attestation.ok()) return common::ReportError(kProgram, attestation.status());

  const nlohmann::ordered_json report =
      WipeReportToJson(first_scan, all_items, *post_scan, *attestation);
  const absl::Status written = common::WriteFileAtomically(
      options.report, report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (!written.ok()) return common::ReportError(kProgram, written);

  // The run is complete: keep its journal as a record, out of the way of the next run.
  const absl::Status finished =
      journal->Append({{"step", "finished"}, {"attestation", *attestation}});
  if (!finished.ok()) return common::ReportError(kProgram, finished);
  fs::create_directories(data_dir / "journal", fs_error);
  fs::rename(journal_path, data_dir / "journal" / absl::StrCat(run_id, ".jsonl"), fs_error);
  if (fs_error) {
    return common::ReportError(kProgram, absl::InternalError(absl::StrCat(
                                             "keep the journal of run ", run_id, ": ",
                                             fs_error.message())));
  }

  const nlohmann::ordered_json summary = ItemSummary(all_items);
  const bool all_wiped = std::all_of(all_items.begin(), all_items.end(), [](const WipeItem& item) {
    return item.outcome.status == ItemStatus::kWiped;
  });
  common::AuditEvent("wipe_completed", {{"run_id", run_id},
                                        {"items", absl::StrCat(all_items.size())},
                                        {"summary", summary.dump()},
                                        {"attestation", *attestation},
                                        {"report", options.report}});
  std::cout << all_items.size() << " items: " << summary.dump() << "; "
            << first_scan.errors.size() + post_scan->errors.size()
            << " files or members not fully examined; attestation: " << *attestation
            << "; report: " << options.report << "\n";
  return all_wiped && first_scan.errors.empty() && post_scan->errors.empty()
             ? common::kExitDone
             : common::kExitAttention;
}

}  // namespace

void AddWipeCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "wipe",
      "Find every copy of the inventory's datasets under the roots, destroy them by the policy "
      "(overwrite passes read back from the medium, renames, truncate, unlink; archives and "
      "derived copies rewritten without the bank's data), scan again, and sign a deletion "
      "attestation with the key in --data-dir. Journaled: run the same command again after a "
      "crash to resume. Exit 0 only when every item was wiped.");
  auto options = std::make_shared<WipeCommandOptions>();
  sub->add_option("--inventory", options->inventory, "the bank's inventory CSV")->required();
  sub->add_option("--fingerprints", options->fingerprints,
                  "fingerprint JSON files, one per dataset, for derived copies");
  sub->add_option("--root", options->roots,
                  "directory to scan and wipe in; nothing outside the roots is ever touched; "
                  "repeat for several")
      ->required();
  sub->add_option("--policy", options->policy, "wipe policy, e.g. policies/nist-800-88-clear.textproto")
      ->required();
  sub->add_option("--data-dir", options->data_dir,
                  "the agent's directory: attestation key, journal, attestations")
      ->required();
  sub->add_option("--report", options->report, "where to write the JSON report")->required();
  sub->add_flag("--dry-run", options->dry_run, "print the plan and change nothing");
  sub->add_flag("--cross-filesystems", options->cross_filesystems,
                "descend into other filesystems mounted below a root");
  sub->add_option("--threads", options->threads, "scanning threads (default: one per CPU)");
  sub->callback([&action, options] { action = [options] { return RunWipe(*options); }; });
}

}  // namespace offboard::agent
