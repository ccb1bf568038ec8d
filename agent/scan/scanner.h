// Discovery: walks the scan roots and examines every regular file in parallel,
// reporting each copy of the bank's datasets — exact copies by content,
// archive members, derived copies and tagged files — and everything that
// could not be fully examined. Changes nothing on disk.
//
//   Scanner scanner(index, &fingerprints, options);
//   OFFBOARD_ASSIGN_OR_RETURN(ScanReport report, scanner.Run(&progress));
//
// Run() is not reentrant; ScanProgress may be read from another thread while
// it runs.
#ifndef OFFBOARD_AGENT_SCAN_SCANNER_H_
#define OFFBOARD_AGENT_SCAN_SCANNER_H_

#include <atomic>
#include <boost/filesystem/path.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/scan/dataset_index.h"
#include "agent/scan/derived_matcher.h"
#include "agent/scan/finding.h"
#include "agent/scan/stream_examiner.h"

namespace offboard::agent {

// The extended attribute that tags a file as holding a dataset, whatever its
// content has become since.
inline constexpr char kDatasetXattr[] = "user.offboard.dataset";

struct ScanOptions {
  std::vector<boost::filesystem::path> roots;
  bool cross_filesystems = false;
  ExaminationLimits limits;
  unsigned threads = 0;  // 0: one per CPU
};

// Live counters for a progress display.
struct ScanProgress {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> findings{0};
  std::mutex current_mutex;
  std::string current_path;  // guarded by current_mutex
};

class Scanner {
 public:
  // `fingerprints` may be null or empty: no derived-copy matching then.
  Scanner(const DatasetIndex& index, const FingerprintIndex* fingerprints, ScanOptions options);

  // Scans every root. NOT_FOUND / INVALID_ARGUMENT when a root does not exist
  // or is not a directory or file (checked before anything is read); problems
  // below a root are in the report's errors. Findings and errors come sorted
  // by path and member chain.
  absl::StatusOr<ScanReport> Run(ScanProgress* progress = nullptr);

 private:
  const DatasetIndex& index_;
  const FingerprintIndex* fingerprints_;
  ScanOptions options_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_SCANNER_H_
