#include "agent/scan/stream_inputs.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/errno_status.h"

namespace offboard::agent {
namespace {

// The first read of a file is small: most files examined are no archive, and
// every libarchive bidder decides within 64 KiB. Reads then grow with the
// position, up to the buffer's size.
constexpr size_t kFirstReadBytes = 64 << 10;

// Below this many decompressed bytes the compression ratio is not checked, so
// that small, very compressible files never trip it.
constexpr uint64_t kRatioFloorBytes = 1 << 20;

// What a member may have delivered to a reader that turned out to be the wrong
// one and still be served again: libarchive's bidders look at far less.
constexpr size_t kReplayCapBytes = 1 << 20;

// libarchive's zip reader names zlib's return code only ("ZIP decompression
// failed (-5)"); the two a damaged archive gives are told in words.
std::string Explained(std::string message) {
  if (message.ends_with("decompression failed (-5)")) {
    message += ": the compressed data ends early (archive cut short or damaged)";
  } else if (message.ends_with("decompression failed (-3)")) {
    message += ": corrupt compressed data";
  }
  return message;
}

}  // namespace

FileState::FileState(const ExaminationLimits& limits_in, const std::string& path_in,
                     std::vector<ScanError>& errors_in, ScanStats& stats_in)
    : limits(limits_in),
      path(path_in),
      errors(errors_in),
      stats(stats_in),
      // Clamped (2^32 s, over a century) so that "no limit" written as a huge
      // value cannot overflow the clock's int64 nanoseconds.
      deadline(std::chrono::steady_clock::now() +
               std::min(limits_in.per_file_timeout, std::chrono::seconds(int64_t{1} << 32))) {}

void FileState::Stop(const std::vector<std::string>& member, std::string reason) {
  if (stopped()) return;
  stop_member = member;
  stop_reason = std::move(reason);
}

void FileState::AddError(const std::vector<std::string>& member, std::string reason) {
  errors.push_back(ScanError{path, member, std::move(reason)});
}

bool FileState::TimeUp(const std::vector<std::string>& member) {
  if (std::chrono::steady_clock::now() < deadline) return false;
  Stop(member, absl::StrCat("time limit exceeded: examining the file took more than ",
                            limits.per_file_timeout.count(), " s"));
  return true;
}

StreamDigest::StreamDigest(const FingerprintIndex* fingerprints) {
  if (fingerprints != nullptr && !fingerprints->empty()) matcher_.emplace(*fingerprints);
}

void StreamDigest::Consume(std::span<const uint8_t> chunk) {
  sha256_.Update(chunk);
  if (matcher_) matcher_->Consume(chunk);
  size_ += chunk.size();
}

void StreamDigest::Finish(bool complete, StreamResult& result) {
  result.size = size_;
  result.hashed = complete;
  if (complete) result.sha256 = sha256_.Finish();
  if (matcher_) result.derived = matcher_->Finish();
}

FileInput::FileInput(int fd, uint64_t size, FileState& file, StreamDigest& digest,
                     bool read_through_skips, std::vector<uint8_t>& buffer)
    : fd_(fd),
      size_(size),
      file_(file),
      digest_(digest),
      read_through_skips_(read_through_skips),
      buffer_(buffer) {}

absl::StatusOr<std::span<const uint8_t>> FileInput::Next() {
  if (!error_.ok()) return error_;
  if (file_.TimeUp({})) {
    error_ = absl::DeadlineExceededError(file_.stop_reason);
    return error_;
  }
  const size_t want = static_cast<size_t>(
      std::min<uint64_t>(buffer_.size(), std::max<uint64_t>(kFirstReadBytes, position_)));
  ssize_t n;
  do {
    n = ::pread(fd_, buffer_.data(), want, static_cast<off_t>(position_));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    error_ = common::ErrnoToStatus(errno, "read");
    file_.Stop({}, std::string(error_.message()));
    return error_;
  }
  const std::span<const uint8_t> chunk(buffer_.data(), static_cast<size_t>(n));
  file_.disk_bytes += chunk.size();
  file_.stats.bytes_read += chunk.size();
  // Feed the digest the part of the chunk it has not seen, if the chunk
  // continues (or overlaps) what it has seen.
  if (position_ <= hashed_ && position_ + chunk.size() > hashed_) {
    digest_.Consume(chunk.subspan(static_cast<size_t>(hashed_ - position_)));
    hashed_ = position_ + chunk.size();
  }
  if (chunk.empty() && position_ == hashed_) hashed_to_end_ = true;
  position_ += chunk.size();
  return chunk;
}

int64_t FileInput::Seek(int64_t offset, int whence) {
  int64_t base = 0;
  switch (whence) {
    case SEEK_SET:
      break;
    case SEEK_CUR:
      base = static_cast<int64_t>(position_);
      break;
    case SEEK_END:
      base = static_cast<int64_t>(size_);
      break;
    default:
      return -1;
  }
  if (offset < -base) return -1;
  position_ = static_cast<uint64_t>(base + offset);
  return static_cast<int64_t>(position_);
}

StreamHead FileInput::Head(size_t max_bytes) {
  head_.resize(max_bytes);
  const ssize_t n = ::pread(fd_, head_.data(), head_.size(), 0);
  if (n < 0) return {};
  return {.bytes = std::span<const uint8_t>(head_).first(static_cast<size_t>(n)),
          .whole = static_cast<uint64_t>(n) >= size_};
}

int64_t FileInput::Skip(int64_t request) {
  if (request <= 0 || (read_through_skips_ && position_ == hashed_)) return 0;
  const uint64_t left = size_ > position_ ? size_ - position_ : 0;
  const uint64_t skipped = std::min<uint64_t>(static_cast<uint64_t>(request), left);
  position_ += skipped;
  return static_cast<int64_t>(skipped);
}

bool FileInput::HashToEnd() {
  position_ = hashed_;
  while (!hashed_to_end_) {
    if (!Next().ok()) return false;
  }
  return true;
}

MemberInput::MemberInput(archive* parent, FileState& file, StreamDigest& digest,
                         const std::vector<std::string>& member, std::span<uint8_t> buffer,
                         uint64_t declared_size)
    : parent_(parent),
      file_(file),
      digest_(digest),
      member_(member),
      buffer_(buffer),
      declared_size_(declared_size) {}

absl::Status MemberInput::Fail(absl::Status status, bool own) {
  error_ = std::move(status);
  own_error_ = own;
  return error_;
}

absl::StatusOr<std::span<const uint8_t>> MemberInput::Next() {
  if (!error_.ok() && !replaying_) return error_;
  if (has_peeked_) {
    has_peeked_ = false;
    return peeked_;
  }
  if (replaying_) {
    // Bytes read ahead before an error are still the member's: served first.
    if (replay_position_ < replay_.size()) {
      const size_t n = std::min(buffer_.size(), replay_.size() - replay_position_);
      const std::span<const uint8_t> chunk(replay_.data() + replay_position_, n);
      replay_position_ += n;
      return chunk;
    }
    if (!error_.ok()) return error_;
    // The reader is done with the last replayed chunk once it asks for more.
    // A capture still running goes on after what it holds.
    replaying_ = false;
    if (!capturing_) std::vector<uint8_t>().swap(replay_);
  }
  return Fetch(buffer_);
}

absl::StatusOr<std::span<const uint8_t>> MemberInput::Fetch(std::span<uint8_t> into) {
  if (at_end_) return std::span<const uint8_t>();
  if (file_.stopped() || file_.TimeUp(member_)) {
    return Fail(absl::AbortedError(file_.stop_reason), /*own=*/false);
  }
  const la_ssize_t n = archive_read_data(parent_, into.data(), into.size());
  if (n < 0) {
    parent_fatal_ = n == ARCHIVE_FATAL;
    const char* message = archive_error_string(parent_);
    if (message != nullptr) return Fail(absl::DataLossError(Explained(message)), /*own=*/true);
    // cpio's reader, for one, fails a cut member without a word. How far it
    // got is unknown: archive_read_data drops what it copied before failing.
    return Fail(
        absl::DataLossError(absl::StrCat(
            "member data unreadable before its end",
            declared_size_ > 0 ? absl::StrCat(" (its header declares ", declared_size_, " bytes)")
                               : "",
            ": archive cut short or damaged")),
        /*own=*/true);
  }
  if (n == 0) {
    at_end_ = true;
    return std::span<const uint8_t>();
  }
  const ExaminationLimits& limits = file_.limits;
  bytes_ += static_cast<uint64_t>(n);
  file_.decompressed_bytes += static_cast<uint64_t>(n);
  file_.stats.bytes_decompressed += static_cast<uint64_t>(n);
  if (bytes_ > limits.max_member_bytes) {
    return Fail(
        absl::ResourceExhaustedError(absl::StrCat("member size limit exceeded: more than ",
                                                  limits.max_member_bytes, " bytes decompressed")),
        /*own=*/true);
  }
  if (file_.decompressed_bytes > limits.max_archive_bytes) {
    file_.Stop(member_,
               absl::StrCat("archive size limit exceeded: more than ", limits.max_archive_bytes,
                            " bytes decompressed from this file"));
  } else if (file_.decompressed_bytes > kRatioFloorBytes &&
             file_.decompressed_bytes / std::max<uint64_t>(file_.disk_bytes, 1) >
                 limits.max_compression_ratio) {
    file_.Stop(member_, absl::StrCat("compression ratio limit exceeded: ", file_.decompressed_bytes,
                                     " bytes decompressed from ", file_.disk_bytes,
                                     " bytes read (limit ", limits.max_compression_ratio, ":1)"));
  }
  if (file_.stopped()) return Fail(absl::AbortedError(file_.stop_reason), /*own=*/false);
  const std::span<const uint8_t> chunk(into.data(), static_cast<size_t>(n));
  digest_.Consume(chunk);
  if (capturing_) {
    if (replay_.size() + chunk.size() <= kReplayCapBytes) {
      replay_.insert(replay_.end(), chunk.begin(), chunk.end());
    } else {
      StopCapture();
    }
  }
  return chunk;
}

void MemberInput::StopCapture() {
  capturing_ = false;
  if (!replaying_) std::vector<uint8_t>().swap(replay_);
}

StreamHead MemberInput::Head(size_t max_bytes) {
  if (!capturing_ && !replaying_) return {};
  max_bytes = std::min(max_bytes, kReplayCapBytes);
  if (capturing_ && !replaying_ && !has_peeked_ && !at_end_ && error_.ok() &&
      replay_.size() < max_bytes) {
    // Read on to `max_bytes` or the member's end, so that the head says
    // whether it is the whole member. Into a buffer of its own: the reader
    // may still hold the last chunk of buffer_. The capture keeps what is
    // read, and the reader gets it from there before anything new.
    const size_t served = replay_.size();
    std::vector<uint8_t> scratch(std::min(max_bytes - served, buffer_.size()));
    // Never past `max_bytes`, so never past the capture's cap.
    while (capturing_ && replay_.size() < max_bytes) {
      const size_t room = std::min(scratch.size(), max_bytes - replay_.size());
      const absl::StatusOr<std::span<const uint8_t>> chunk =
          Fetch(std::span<uint8_t>(scratch).first(room));
      if (!chunk.ok() || chunk->empty()) break;
    }
    replaying_ = replay_.size() > served;
    replay_position_ = served;
  }
  const size_t n = std::min(replay_.size(), max_bytes);
  return {.bytes = std::span<const uint8_t>(replay_).first(n),
          .whole = at_end_ && n == replay_.size()};
}

bool MemberInput::Rewind() {
  if (!capturing_ || !error_.ok()) return false;
  capturing_ = false;
  replaying_ = true;
  replay_position_ = 0;
  has_peeked_ = false;
  return true;
}

absl::StatusOr<std::span<const uint8_t>> MemberInput::Peek() {
  absl::StatusOr<std::span<const uint8_t>> chunk = Next();
  if (chunk.ok()) {
    peeked_ = *chunk;
    has_peeked_ = true;
  }
  return chunk;
}

void MemberInput::Drain() {
  for (;;) {
    absl::StatusOr<std::span<const uint8_t>> chunk = Next();
    if (!chunk.ok() || chunk->empty()) return;
  }
}

}  // namespace offboard::agent
