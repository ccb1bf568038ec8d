#include "agent/cli/wipe_command.h"

#include <unistd.h>

#include <boost/filesystem/operations.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/cli/discovery.h"
#include "agent/scan/scan_report_json.h"
#include "agent/wipe/confined_file.h"
#include "agent/wipe/wipe_plan.h"
#include "agent/wipe/wipe_report_json.h"
#include "agent/wipe/wipe_run.h"
#include "common/crypto/sha256.h"
#include "common/io/write_file.h"
#include "common/policy/wipe_policy.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

// OK when a file can be created at `report`: its folder exists and is
// writable, and `report` is not a folder itself.
absl::Status CheckReportWritable(const std::string& report) {
  const fs::path path = fs::absolute(report);
  boost::system::error_code error;
  if (fs::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat("--report ", report, " is a directory"));
  }
  const fs::path folder = path.parent_path();
  if (!fs::is_directory(folder, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--report ", report, ": no directory ", folder.string()));
  }
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--report ", report, ": cannot write in ",
                                                   folder.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

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
                                            const offboard::v1::WipePolicy& policy,
                                            absl::string_view inventory_sha256) {
  common::Sha256 hasher;
  hasher.Update(policy.SerializeAsString());
  for (const std::string& root : roots) hasher.Update(absl::StrCat("root\n", root, "\n"));
  hasher.Update(absl::StrCat("file\n", inventory_sha256, "\n"));
  for (const std::string& file : options.fingerprints) {
    OFFBOARD_ASSIGN_OR_RETURN(common::Sha256Digest digest, common::Sha256File(file));
    hasher.Update(absl::StrCat("file\n", common::DigestHex(digest), "\n"));
  }
  return common::DigestHex(hasher.Finish());
}

int RunWipe(const WipeCommandOptions& options) {
  absl::StatusOr<offboard::v1::WipePolicy> policy = common::LoadWipePolicy(options.policy);
  if (!policy.ok()) return common::ReportError(kProgram, policy.status());
  // The roots first: a typo should not cost a long inventory load.
  std::vector<std::string> root_paths;
  for (const std::string& root : options.roots) {
    absl::StatusOr<WipeRoot> opened = WipeRoot::Open(fs::absolute(root));
    if (!opened.ok()) return common::ReportError(kProgram, opened.status());
    root_paths.push_back(opened->path());
  }
  absl::StatusOr<DiscoveryInputs> inputs =
      LoadDiscoveryInputs(options.inventory, options.fingerprints);
  if (!inputs.ok()) return common::ReportError(kProgram, inputs.status());
  absl::StatusOr<common::Sha256Digest> inventory_digest = common::Sha256File(options.inventory);
  if (!inventory_digest.ok()) return common::ReportError(kProgram, inventory_digest.status());
  const std::string inventory_sha256 = common::DigestHex(*inventory_digest);
  absl::StatusOr<std::string> arguments =
      ArgumentsDigest(options, root_paths, *policy, inventory_sha256);
  if (!arguments.ok()) return common::ReportError(kProgram, arguments.status());
  const ScanFunction scan = [&inputs](const ScanOptions& scan_options) {
    return RunDiscovery(*inputs, scan_options);
  };

  if (options.dry_run) {
    boost::system::error_code error;
    if (fs::exists(fs::path(options.data_dir) / "wipe-journal.jsonl", error)) {
      std::cout << "note: an unfinished wipe is in " << options.data_dir
                << "; running without --dry-run resumes it\n";
    }
    absl::StatusOr<ScanReport> found =
        scan(ScanOptionsFor(*policy, root_paths, options.cross_filesystems, options.threads));
    if (!found.ok()) return common::ReportError(kProgram, found.status());
    const WipePlan plan = PlanWipe(found->findings, *policy);
    std::cout << DescribePlan(plan) << "dry run: nothing was changed\n";
    nlohmann::ordered_json report = ScanReportToJson(*found);
    report["dry_run"] = true;
    report["plan"] = nlohmann::ordered_json::parse(
        PlanToJson(plan).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    const absl::Status written = common::WriteFileAtomically(
        options.report,
        report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!written.ok()) return common::ReportError(kProgram, written);
    return found->errors.empty() ? common::kExitDone : common::kExitAttention;
  }

  WipeRunRequest request;
  request.roots = options.roots;
  request.policy = *policy;
  request.fingerprints = &inputs->fingerprints;
  request.scan = scan;
  request.data_dir = options.data_dir;
  request.request_digest = *arguments;
  request.inventory_sha256 = inventory_sha256;
  request.agent_version = OFFBOARD_VERSION;
  request.cross_filesystems = options.cross_filesystems;
  request.threads = options.threads;
  // The report is written after the wipe: a place it cannot go is found
  // before anything is destroyed, while "nothing was changed" still holds.
  if (const absl::Status writable = CheckReportWritable(options.report); !writable.ok()) {
    return common::ReportError(kProgram, writable);
  }
  absl::StatusOr<WipeRunResult> result = ExecuteWipeRun(request);
  if (!result.ok()) return common::ReportError(kProgram, result.status());
  if (result->resumed) std::cout << "resumed the interrupted wipe " << result->run_id << "\n";
  const absl::Status written = common::WriteFileAtomically(
      options.report,
      result->report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (!written.ok()) {
    // The wipe is done and attested (ABORTED: exit 1); say where its record is.
    return common::ReportError(
        kProgram, absl::AbortedError(
                      absl::StrCat("the wipe finished (attestation ", result->attestation_path,
                                   ") but its report could not be written: ", written.message())));
  }
  std::cout << result->items.size() << " items: " << ItemSummary(result->items).dump() << "; "
            << result->first_scan.errors.size() + result->post_scan.errors.size()
            << " files or members not fully examined; attestation: " << result->attestation_path
            << "; report: " << options.report << "\n";
  return result->complete() ? common::kExitDone : common::kExitAttention;
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
                "descend into other filesystems mounted below a root (a bind mount of a "
                "directory, or a filesystem also mounted outside the root, is never wiped)");
  sub->add_option("--threads", options->threads, "scanning threads (default: one per CPU)");
  sub->callback([&action, options] { action = [options] { return RunWipe(*options); }; });
}

}  // namespace offboard::agent
