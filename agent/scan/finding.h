// What discovery reports: findings (copies of the bank's data), errors (what
// could not be fully examined) and statistics. Plain data, thread-compatible.
//
// A finding names the file on disk and, for data inside archives, the chain of
// members from the outermost archive inward: {"backup.tar.gz", ...} is never
// part of `member`; `path` is the file on disk and `member` is e.g.
// {"2024/export.zip", "customers.csv"}.
#ifndef OFFBOARD_AGENT_SCAN_FINDING_H_
#define OFFBOARD_AGENT_SCAN_FINDING_H_

#include <cstdint>
#include <string>
#include <vector>

namespace offboard::agent {

enum class MatchKind {
  kExact,    // a file on disk whose content equals an inventory file
  kArchive,  // an archive member whose content equals an inventory file
  kDerived,  // a text file or member holding at least min_matches records of a dataset
  kTag,      // a file carrying the xattr user.offboard.dataset naming a dataset
};

// "exact", "archive", "derived", "tag".
const char* MatchKindName(MatchKind kind);

// Identity of the file on disk when it was examined, so that a later wipe can
// tell whether it changed in between.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t link_count = 0;
};

struct Finding {
  std::string dataset_id;
  std::string sha256;               // lowercase hex of the matched content (file or member)
  std::string path;                 // absolute path of the file on disk
  std::vector<std::string> member;  // archive member chain, empty for a plain file
  MatchKind match = MatchKind::kExact;
  uint64_t size = 0;             // bytes of the matched content
  uint64_t records_matched = 0;  // derived copies: distinct identifiers matched
  FileIdentity identity;         // of `path`
};

struct ScanError {
  std::string path;
  std::vector<std::string> member;  // where inside an archive, if there
  std::string reason;
};

struct ScanStats {
  uint64_t files_scanned = 0;  // regular files looked at
  uint64_t bytes_read = 0;     // bytes read from disk
  uint64_t archives_opened = 0;
  uint64_t members_examined = 0;
  uint64_t bytes_decompressed = 0;
};

struct ScanReport {
  std::vector<Finding> findings;
  std::vector<ScanError> errors;
  ScanStats stats;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_FINDING_H_
