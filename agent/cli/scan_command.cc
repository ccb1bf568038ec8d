#include "agent/cli/scan_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/cli/discovery.h"
#include "agent/scan/scan_report_json.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"

namespace offboard::agent {
namespace {

constexpr char kProgram[] = "offboard-agent scan";

struct ScanCommandOptions {
  std::string inventory;
  std::vector<std::string> fingerprints;
  std::vector<std::string> roots;
  std::string report;
  bool cross_filesystems = false;
  uint32_t max_depth = 4;
  unsigned threads = 0;
};

int RunScan(const ScanCommandOptions& options) {
  absl::StatusOr<DiscoveryInputs> inputs =
      LoadDiscoveryInputs(options.inventory, options.fingerprints);
  if (!inputs.ok()) return common::ReportError(kProgram, inputs.status());

  ScanOptions scan_options;
  scan_options.roots.assign(options.roots.begin(), options.roots.end());
  scan_options.cross_filesystems = options.cross_filesystems;
  scan_options.limits.max_depth = options.max_depth;
  scan_options.threads = options.threads;
  absl::StatusOr<ScanReport> report = RunDiscovery(*inputs, scan_options);
  if (!report.ok()) return common::ReportError(kProgram, report.status());

  const absl::Status written =
      common::WriteFileAtomically(options.report, ScanReportToJson(*report).dump(2) + "\n");
  if (!written.ok()) return common::ReportError(kProgram, written);
  common::AuditEvent("scan_completed",
                     {{"findings", absl::StrCat(report->findings.size())},
                      {"errors", absl::StrCat(report->errors.size())},
                      {"files_scanned", absl::StrCat(report->stats.files_scanned)},
                      {"bytes_read", absl::StrCat(report->stats.bytes_read)},
                      {"report", options.report}});
  std::cout << report->findings.size() << " findings, " << report->errors.size()
            << " files or members not fully examined, " << report->stats.files_scanned
            << " files scanned, " << report->stats.bytes_read
            << " bytes read; report: " << options.report << "\n";
  return report->errors.empty() ? common::kExitDone : common::kExitAttention;
}

}  // namespace

void AddScanCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "scan",
      "Find every copy of the inventory's datasets under the roots: exact copies by content "
      "(whatever the name), members of archives (nested), derived extracts (with fingerprint "
      "files) and files tagged with the xattr user.offboard.dataset. Changes nothing. Exit 0 "
      "when everything was examined, 1 when something could not be (see \"errors\").");
  auto options = std::make_shared<ScanCommandOptions>();
  sub->add_option("--inventory", options->inventory, "the bank's inventory CSV")->required();
  sub->add_option("--fingerprints", options->fingerprints,
                  "fingerprint JSON files, one per dataset, for derived copies");
  sub->add_option("--root", options->roots, "directory (or file) to scan; repeat for several")
      ->required();
  sub->add_option("--report", options->report, "where to write the JSON report")->required();
  sub->add_flag("--cross-filesystems", options->cross_filesystems,
                "descend into other filesystems mounted below a root");
  sub->add_option("--max-depth", options->max_depth, "nesting of archives to open")
      ->default_val(4)
      ->check(CLI::Range(1, 16));
  sub->add_option("--threads", options->threads, "examining threads (default: one per CPU)");
  sub->callback([&action, options] { action = [options] { return RunScan(*options); }; });
}

}  // namespace offboard::agent
