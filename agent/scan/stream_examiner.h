// Examines the content of one regular file: hashes it, opens it as an archive
// when it is one (libarchive, streaming, nothing extracted to disk), recurses
// into members up to a depth, and runs the derived-copy matcher on every
// stream that is not itself an archive. Decompression-bomb limits count real
// decompressed bytes.
//
// Formats: whatever libarchive reads — tar (plain, gz, bz2, xz, zst), zip,
// 7z, cpio, iso9660, ar, rar... — and single-file gz/bz2/xz/zst/lz4 as one
// member. Never decided by name or extension.
//
// Not thread-safe: one StreamExaminer per thread.
#ifndef OFFBOARD_AGENT_SCAN_STREAM_EXAMINER_H_
#define OFFBOARD_AGENT_SCAN_STREAM_EXAMINER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/scan/derived_matcher.h"
#include "agent/scan/finding.h"
#include "common/crypto/sha256.h"

namespace offboard::agent {

struct ExaminationLimits {
  uint32_t max_depth = 4;                    // archives inside archives
  uint64_t max_member_bytes = 16ull << 30;   // decompressed bytes of one member
  uint64_t max_archive_bytes = 64ull << 30;  // decompressed bytes under one file
  uint32_t max_compression_ratio = 1000;     // decompressed / bytes read from disk
  std::chrono::seconds per_file_timeout{600};
};

// One examined stream: the file itself (member empty) or an archive member.
struct StreamResult {
  std::vector<std::string> member;  // chain of member names; empty for the file
  uint64_t size = 0;                // bytes in the stream (decompressed for members)
  common::Sha256Digest sha256{};    // valid only when `hashed`
  bool hashed = false;              // the whole stream was read and hashed
  bool is_archive = false;          // the stream was opened as an archive
  std::vector<DerivedMatch> derived;
};

class StreamExaminer {
 public:
  // `fingerprints` may be null (no derived-copy matching).
  StreamExaminer(ExaminationLimits limits, const FingerprintIndex* fingerprints);

  // Examines the regular file open at `fd` (offset 0, `size` bytes, named
  // `path` in errors). `hash_file` asks for the whole file to be hashed even
  // when it is no archive (its size is a candidate); otherwise a file that is
  // neither an archive nor text for the matcher may be read only as far as
  // needed to tell. Calls `on_stream` once per stream, innermost first, and
  // appends to `errors` every file or member that could not be fully examined
  // (corrupt, truncated, encrypted, over a limit, timed out, unsupported),
  // with its member chain. Never throws.
  void ExamineFile(int fd, const std::string& path, uint64_t size, bool hash_file,
                   const std::function<void(const StreamResult&)>& on_stream,
                   std::vector<ScanError>& errors, ScanStats& stats);

 private:
  ExaminationLimits limits_;
  const FingerprintIndex* fingerprints_;
  // Reused from file to file, so that examining many small files does not
  // allocate: the read buffer for the file on disk, and one buffer per depth
  // of nesting for decompressed member data.
  std::vector<uint8_t> read_buffer_;
  std::vector<std::vector<uint8_t>> member_buffers_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_STREAM_EXAMINER_H_
