#include "agent/cli/scan_command.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/scan/dataset_index.h"
#include "agent/scan/derived_matcher.h"
#include "agent/scan/scan_report_json.h"
#include "agent/scan/scanner.h"
#include "common/inventory/fingerprint_set.h"
#include "common/inventory/inventory_csv.h"
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

// Redraws one status line on stderr while the scan runs, only on a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(ScanProgress& progress) : progress_(progress) {
    if (::isatty(STDERR_FILENO) == 1) thread_ = std::thread([this] { Loop(); });
  }
  ~ProgressLine() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
    std::fputs("\r\033[K", stderr);
  }

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(250), [this] { return done_; })) {
      std::string current;
      {
        std::lock_guard path_lock(progress_.current_mutex);
        current = progress_.current_path;
      }
      if (current.size() > 60) current = "..." + current.substr(current.size() - 57);
      std::fprintf(stderr, "\r\033[Kscanned %llu files, %.1f MiB, %llu findings  %s",
                   static_cast<unsigned long long>(progress_.files.load()),
                   static_cast<double>(progress_.bytes.load()) / (1 << 20),
                   static_cast<unsigned long long>(progress_.findings.load()), current.c_str());
      std::fflush(stderr);
    }
  }

  ScanProgress& progress_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

// Every file queued for the examining threads keeps its directory open; on a
// host with many CPUs the default soft limit of 1024 descriptors can be short.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int RunScan(const ScanCommandOptions& options) {
  RaiseDescriptorLimit();
  // The inventory streams into the index: a million rows would take hundreds
  // of MiB as records, and the scanner needs only sizes, digests and datasets.
  DatasetIndex::Builder builder;
  const absl::Status read = common::ForEachInventoryRecord(
      options.inventory, [&builder](const common::InventoryRecord& record) {
        builder.Add(record);
        return absl::OkStatus();
      });
  if (!read.ok()) return common::ReportError(kProgram, read);
  absl::StatusOr<DatasetIndex> index = std::move(builder).Finish();
  if (!index.ok()) return common::ReportError(kProgram, index.status());

  absl::StatusOr<std::vector<common::FingerprintSet>> sets = common::ReadFingerprintSetsFor(
      [&index](absl::string_view dataset_id) { return index->HasDataset(dataset_id); },
      options.inventory, options.fingerprints);
  if (!sets.ok()) return common::ReportError(kProgram, sets.status());
  absl::StatusOr<FingerprintIndex> fingerprints = FingerprintIndex::Build(*std::move(sets));
  if (!fingerprints.ok()) return common::ReportError(kProgram, fingerprints.status());

  ScanOptions scan_options;
  scan_options.roots.assign(options.roots.begin(), options.roots.end());
  scan_options.cross_filesystems = options.cross_filesystems;
  scan_options.limits.max_depth = options.max_depth;
  scan_options.threads = options.threads;
  Scanner scanner(*index, &*fingerprints, scan_options);
  ScanProgress progress;
  absl::StatusOr<ScanReport> report;
  {
    ProgressLine line(progress);
    report = scanner.Run(&progress);
  }
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
