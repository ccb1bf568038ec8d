// The byte streams of one file's examination, as libarchive inputs: the file
// on disk (FileInput) and the decompressed data of an archive member
// (MemberInput). Each tees every byte it delivers to the StreamDigest of its
// stream, so one pass reads each byte once, and MemberInput enforces the
// decompression-bomb limits on the bytes actually decompressed.
//
// Internal to StreamExaminer. Not thread-safe.
#ifndef OFFBOARD_AGENT_SCAN_STREAM_INPUTS_H_
#define OFFBOARD_AGENT_SCAN_STREAM_INPUTS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/scan/archive_source.h"
#include "agent/scan/derived_matcher.h"
#include "agent/scan/finding.h"
#include "agent/scan/stream_examiner.h"
#include "common/crypto/sha256.h"

namespace offboard::agent {

// What the streams of one file share: limits, counters, and the reason the
// whole file stopped (a file-wide limit, the time limit or a read error).
struct FileState {
  FileState(const ExaminationLimits& limits_in, const std::string& path_in,
            std::vector<ScanError>& errors_in, ScanStats& stats_in);

  bool stopped() const { return !stop_reason.empty(); }
  // Stops the examination of the whole file; the first reason wins and is
  // reported once, by whoever runs the examination.
  void Stop(const std::vector<std::string>& member, std::string reason);
  void AddError(const std::vector<std::string>& member, std::string reason);
  // Stops the file (and returns true) once the per-file time is up.
  bool TimeUp(const std::vector<std::string>& member);
  // Counts `n` more bytes decompressed under `member`; stops the file (and
  // returns true) when they break the archive size or the ratio limit.
  bool CountDecompressed(const std::vector<std::string>& member, uint64_t n);

  const ExaminationLimits& limits;
  const std::string& path;
  std::vector<ScanError>& errors;
  ScanStats& stats;
  std::chrono::steady_clock::time_point deadline;
  uint64_t disk_bytes = 0;          // read from the file, re-reads included
  uint64_t decompressed_bytes = 0;  // member data at every depth
  std::vector<std::string> stop_member;
  std::string stop_reason;
};

// SHA-256 and, for streams that are not archives, the derived-copy matcher.
class StreamDigest {
 public:
  explicit StreamDigest(const FingerprintIndex* fingerprints);

  void Consume(std::span<const uint8_t> chunk);
  bool matching() const { return matcher_.has_value(); }
  // The stream turned out to be an archive: its own bytes are no text to match.
  void StopMatching() { matcher_.reset(); }
  uint64_t size() const { return size_; }
  // Fills size, sha256/hashed (when `complete`) and derived matches.
  void Finish(bool complete, StreamResult& result);

 private:
  common::Sha256 sha256_;
  std::optional<DerivedMatcher> matcher_;
  uint64_t size_ = 0;
};

// The file on disk, read with pread so that libarchive may seek (7z, zip's
// central directory). The digest sees the file's bytes in order: bytes read
// out of order are not hashed, and HashToEnd reads on from the first byte the
// digest has not seen.
class FileInput final : public ArchiveInput {
 public:
  // `read_through_skips`: the whole file will be hashed, so libarchive reads
  // what it would skip rather than leaving a gap to read again later.
  FileInput(int fd, uint64_t size, FileState& file, StreamDigest& digest, bool read_through_skips,
            std::vector<uint8_t>& buffer);

  absl::StatusOr<std::span<const uint8_t>> Next() override;
  bool failed() const override { return !error_.ok(); }
  bool seekable() const override { return true; }
  int64_t Seek(int64_t offset, int whence) override;
  int64_t Skip(int64_t request) override;
  // From the buffer when it holds the file's start (the first call, before
  // anything was read, reads it there ahead of Next); else read again from
  // the disk, into a buffer made on the first call.
  StreamHead Head(size_t max_bytes) override;
  std::optional<uint64_t> KnownSize() const override { return size_; }
  bool Rewind() override { return Seek(0, SEEK_SET) == 0; }

  // Reads on to the end of the file, feeding the digest. False on a read error
  // or when the time is up (the file is then stopped).
  bool HashToEnd();
  // The digest has seen every byte up to the end of the file.
  bool hashed_to_end() const { return hashed_to_end_; }
  // Bytes from the first one the digest has not seen to the expected end.
  uint64_t unhashed_tail() const { return size_ > hashed_ ? size_ - hashed_ : 0; }

 private:
  // pread at position_ into buffer_; false with errno set on a read error.
  bool ReadBuffer(size_t want);
  void ReadRestAfterEnd() override;

  int fd_;
  uint64_t size_;
  FileState& file_;
  StreamDigest& digest_;
  bool read_through_skips_;
  std::vector<uint8_t>& buffer_;
  uint64_t position_ = 0;
  uint64_t hashed_ = 0;  // the digest has seen [0, hashed_)
  bool hashed_to_end_ = false;
  std::vector<uint8_t> head_;  // for Head only
  // buffer_ holds the file's bytes [buffer_start_, buffer_start_ + buffer_bytes_).
  uint64_t buffer_start_ = 0;
  size_t buffer_bytes_ = 0;
  bool buffer_at_end_ = false;  // the read that filled it met the file's end
  bool unserved_ = false;  // read by Head, not yet returned by Next
  bool read_any_ = false;  // Next or Head has been called
  absl::Status error_;
};

// The data of the current entry of `parent`, decompressed by libarchive.
class MemberInput final : public ArchiveInput {
 public:
  // `declared_size`: what the entry's header says it holds, 0 when unknown;
  // named in the error when libarchive fails a read without a reason.
  MemberInput(archive* parent, FileState& file, StreamDigest& digest,
              const std::vector<std::string>& member, std::span<uint8_t> buffer,
              uint64_t declared_size = 0);

  absl::StatusOr<std::span<const uint8_t>> Next() override;
  bool failed() const override { return !error_.ok(); }

  // The first chunk, which the next call to Next returns again.
  absl::StatusOr<std::span<const uint8_t>> Peek();
  // From the bytes kept since StartCapture (called before anything was read);
  // none when capturing was off or has stopped. While capturing, reads on
  // to `max_bytes` (at most the capture's cap) or the member's end first;
  // the reader is served those bytes later, from the capture.
  StreamHead Head(size_t max_bytes) override;
  std::optional<uint64_t> KnownSize() const override {
    return declared_size_ > 0 ? std::optional<uint64_t>(declared_size_) : std::nullopt;
  }
  // Reads the rest of the member, feeding the digest (and checking it, after
  // an archive's end).
  void Drain();

  // Keeps a copy of the bytes read from now on, up to a cap, so that Rewind
  // can serve the member again from its start to a second reader.
  void StartCapture() { capturing_ = true; }
  void StopCapture();
  void StopRewinding() override { StopCapture(); }
  // Serves the captured bytes again (without feeding the digest twice), then
  // continues. False when capturing was off or more than the cap was read.
  bool Rewind() override;

  bool at_end() const { return at_end_; }
  const absl::Status& error() const { return error_; }
  // The error is this member's own (corrupt data, its size limit), not a
  // file-wide stop reported elsewhere.
  bool own_error() const { return own_error_; }
  // libarchive returned ARCHIVE_FATAL: `parent` can read nothing more.
  bool parent_fatal() const { return parent_fatal_; }

 private:
  absl::Status Fail(absl::Status status, bool own);
  // Reads the member's next bytes from `parent` into `into`, counted against
  // the limits, fed to the digest and captured; empty at the member's end.
  absl::StatusOr<std::span<const uint8_t>> Fetch(std::span<uint8_t> into);

  archive* parent_;
  FileState& file_;
  StreamDigest& digest_;
  const std::vector<std::string> member_;  // a copy: the caller's chain grows
  std::span<uint8_t> buffer_;
  uint64_t declared_size_;
  uint64_t bytes_ = 0;
  std::span<const uint8_t> peeked_;
  bool has_peeked_ = false;
  std::vector<uint8_t> replay_;
  size_t replay_position_ = 0;
  bool capturing_ = false;
  bool replaying_ = false;
  bool at_end_ = false;
  bool own_error_ = false;
  bool parent_fatal_ = false;
  absl::Status error_;
};

// A gzip stream decompressed with zlib, which checks each member's trailer:
// libarchive's gzip reader (3.6) checks neither the CRC-32 nor the length, so
// a damaged .gz decompressed to other bytes without a word, and a copy of a
// dataset in it went unfound and unreported. Members that follow one another
// (`cat a.gz b.gz`) are read in turn; zero bytes after the last are padding,
// anything else is an error (bytes nobody examined). A trailer that does not
// match is an error too, but the data before it is served whole.
//
// Only gzip that is the stream itself is read here: a gzip under another
// filter, or in a gzip, is libarchive's, and its trailers go unchecked.
//
// Errors in the gzip data reach the reader over this input as read errors,
// as libarchive's own gzip errors did, so the member being read names them;
// failed() is true only when `upstream` failed (reported by its owner).
class GunzipInput final : public ArchiveInput {
 public:
  // The head of a gzip stream: magic, deflate, no reserved flag.
  static bool Starts(std::span<const uint8_t> head);

  // `upstream` gives the compressed bytes from their start; `member` names
  // the compressed stream in the limit errors of Finish.
  GunzipInput(ArchiveInput& upstream, FileState& file, const std::vector<std::string>& member);
  ~GunzipInput() override;
  GunzipInput(const GunzipInput&) = delete;
  GunzipInput& operator=(const GunzipInput&) = delete;

  absl::StatusOr<std::span<const uint8_t>> Next() override;
  bool failed() const override { return upstream_.failed(); }
  // The gzip data itself is damaged (not a trailer: see Finish).
  bool data_error() const { return !error_.ok() && !upstream_.failed(); }
  // That error, for the caller to report: Finish will not report it again.
  absl::Status TakeError() {
    error_returned_ = true;
    return error_;
  }
  // Next has returned the error: the reader has met it.
  bool error_returned() const { return error_returned_; }
  // The first bytes decompressed, up to kWeakSignatureHeadBytes; none before
  // the first Next (which decompresses at least that many unless the stream
  // ends first).
  StreamHead Head(size_t max_bytes) override;
  bool Rewind() override;
  void StopRewinding() override { upstream_.StopRewinding(); }

  // Decompresses the rest, which the reader did not ask for (tar's end
  // blocks, a second tar after the first one's end), so that every trailer
  // is checked; those bytes count against the limits. After the reader
  // stopped early on an error (a member over its limit), at most 16 MiB
  // more, not counted, and later trailers go unchecked. Returns what is
  // wrong that nobody has reported: a trailer, bytes after the last member,
  // an error in the data that Next has not returned.
  std::vector<std::string> Finish(bool reader_stopped_early);

 private:
  // Fills `out_` from its start; an error is kept in error_ and returned
  // once what came before it has been served.
  size_t Decompress();
  // More compressed bytes into in_; false at the upstream's end or error.
  bool Refill();
  // Bytes after the last member that are not gzip: reported by Finish.
  void TrailingData();
  void Fail(std::string reason);

  ArchiveInput& upstream_;
  FileState& file_;
  const std::vector<std::string> member_;
  struct ZStream;
  std::unique_ptr<ZStream> z_;
  std::vector<uint8_t> out_;
  std::vector<uint8_t> head_;
  std::span<const uint8_t> in_;   // upstream bytes not yet decompressed
  bool between_members_ = false;  // after a trailer: padding, another member or the end
  size_t skip_ = 0;               // trailer bytes zlib left after a failed check
  bool at_end_ = false;
  uint64_t total_out_ = 0;
  uint64_t members_ = 0;  // ended with a good trailer
  absl::Status error_;
  bool error_returned_ = false;
  // A trailer that does not match what was decompressed, or bytes after the
  // last member that are not gzip: the data came whole, so the reader gets
  // it and its end, and Finish the error.
  absl::Status trailer_error_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_STREAM_INPUTS_H_
