#include "agent/cli/discovery.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>

#include "common/inventory/fingerprint_set.h"
#include "common/inventory/inventory_csv.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

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

void RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

absl::StatusOr<DiscoveryInputs> LoadDiscoveryInputs(
    const std::string& inventory, const std::vector<std::string>& fingerprint_files) {
  DatasetIndex::Builder builder;
  OFFBOARD_RETURN_IF_ERROR(common::ForEachInventoryRecord(
      inventory, [&builder](const common::InventoryRecord& record) {
        builder.Add(record);
        return absl::OkStatus();
      }));
  OFFBOARD_ASSIGN_OR_RETURN(DatasetIndex index, std::move(builder).Finish());
  OFFBOARD_ASSIGN_OR_RETURN(
      std::vector<common::FingerprintSet> sets,
      common::ReadFingerprintSetsFor(
          [&index](absl::string_view dataset_id) { return index.HasDataset(dataset_id); },
          inventory, fingerprint_files));
  OFFBOARD_ASSIGN_OR_RETURN(FingerprintIndex fingerprints,
                            FingerprintIndex::Build(std::move(sets)));
  return DiscoveryInputs{std::move(index), std::move(fingerprints)};
}

absl::StatusOr<ScanReport> RunDiscovery(const DiscoveryInputs& inputs, const ScanOptions& options) {
  RaiseDescriptorLimit();
  Scanner scanner(inputs.index, &inputs.fingerprints, options);
  ScanProgress progress;
  ProgressLine line(progress);
  return scanner.Run(&progress);
}

}  // namespace offboard::agent
