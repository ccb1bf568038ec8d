#include "agent/scan/stream_inputs.h"

#include <unistd.h>
#include <zlib.h>

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

bool FileState::CountDecompressed(const std::vector<std::string>& member, uint64_t n) {
  decompressed_bytes += n;
  stats.bytes_decompressed += n;
  if (decompressed_bytes > limits.max_archive_bytes) {
    Stop(member, absl::StrCat("archive size limit exceeded: more than ", limits.max_archive_bytes,
                              " bytes decompressed from this file"));
  } else if (decompressed_bytes > kRatioFloorBytes &&
             decompressed_bytes / std::max<uint64_t>(disk_bytes, 1) >
                 limits.max_compression_ratio) {
    Stop(member, absl::StrCat("compression ratio limit exceeded: ", decompressed_bytes,
                              " bytes decompressed from ", disk_bytes, " bytes read (limit ",
                              limits.max_compression_ratio, ":1)"));
  }
  return stopped();
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

namespace {

// pread(2), again when a signal interrupts it.
ssize_t PreadRetrying(int fd, void* data, size_t size, uint64_t offset) {
  ssize_t n;
  do {
    n = ::pread(fd, data, size, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace

absl::StatusOr<std::span<const uint8_t>> FileInput::Next() {
  if (!error_.ok()) return error_;
  if (file_.TimeUp({})) {
    error_ = absl::DeadlineExceededError(file_.stop_reason);
    return error_;
  }
  read_any_ = true;
  if (!unserved_ || position_ != buffer_start_) {
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(buffer_.size(), std::max<uint64_t>(kFirstReadBytes, position_)));
    if (!ReadBuffer(want)) {
      error_ = common::ErrnoToStatus(errno, "read");
      file_.Stop({}, std::string(error_.message()));
      return error_;
    }
  }
  unserved_ = false;
  const std::span<const uint8_t> chunk(buffer_.data(), buffer_bytes_);
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

bool FileInput::ReadBuffer(size_t want) {
  const ssize_t n = PreadRetrying(fd_, buffer_.data(), want, position_);
  if (n < 0) return false;
  buffer_start_ = position_;
  buffer_bytes_ = static_cast<size_t>(n);
  // A regular file reads short only at its end, wherever stat said it was.
  buffer_at_end_ = buffer_bytes_ < want;
  return true;
}

StreamHead FileInput::Head(size_t max_bytes) {
  // Before anything was read, the first read comes early (Next serves it):
  // no reader holds the buffer yet.
  if (!read_any_ && position_ == 0 && !unserved_ &&
      ReadBuffer(static_cast<size_t>(std::min<uint64_t>(buffer_.size(), kFirstReadBytes)))) {
    unserved_ = true;
  }
  read_any_ = true;
  // The buffer holds the file's start, as far as asked or to its end.
  if (buffer_start_ == 0 && (buffer_bytes_ >= max_bytes || buffer_at_end_)) {
    const size_t n = std::min(buffer_bytes_, max_bytes);
    return {.bytes = std::span<const uint8_t>(buffer_).first(n),
            .whole = buffer_at_end_ && n == buffer_bytes_};
  }
  head_.resize(max_bytes);
  const ssize_t n = PreadRetrying(fd_, head_.data(), head_.size(), 0);
  if (n < 0) return {};
  return {.bytes = std::span<const uint8_t>(head_).first(static_cast<size_t>(n)),
          .whole = static_cast<size_t>(n) < max_bytes};
}

int64_t FileInput::Skip(int64_t request) {
  if (request <= 0 || (read_through_skips_ && position_ == hashed_)) return 0;
  const uint64_t left = size_ > position_ ? size_ - position_ : 0;
  const uint64_t skipped = std::min<uint64_t>(static_cast<uint64_t>(request), left);
  position_ += skipped;
  return static_cast<int64_t>(skipped);
}

void FileInput::ReadRestAfterEnd() {
  // The reader is done with buffer_. What is read feeds the digest if it
  // continues what the digest has seen, so that HashToEnd need not read it
  // again. Holes are zeros: not read (a tar at the start of a sparse disk
  // image).
  while (!data_after_end()) {
    const off_t data = ::lseek(fd_, static_cast<off_t>(position_), SEEK_DATA);
    if (data < 0 && errno == ENXIO) return;  // a hole to the end
    if (data > static_cast<off_t>(position_)) {
      CheckedZerosAfterEnd(static_cast<uint64_t>(data) - position_);
      position_ = static_cast<uint64_t>(data);
    }
    const absl::StatusOr<std::span<const uint8_t>> chunk = Next();
    if (!chunk.ok() || chunk->empty()) return;  // a read error stops the file
    CheckAfterEnd(*chunk);
  }
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
  bytes_ += static_cast<uint64_t>(n);
  if (bytes_ > file_.limits.max_member_bytes) {
    // The member's own limit: its error alone, the file goes on.
    file_.decompressed_bytes += static_cast<uint64_t>(n);
    file_.stats.bytes_decompressed += static_cast<uint64_t>(n);
    return Fail(absl::ResourceExhaustedError(absl::StrCat("member size limit exceeded: more than ",
                                                          file_.limits.max_member_bytes,
                                                          " bytes decompressed")),
                /*own=*/true);
  }
  if (file_.CountDecompressed(member_, static_cast<uint64_t>(n))) {
    return Fail(absl::AbortedError(file_.stop_reason), /*own=*/false);
  }
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
    CheckAfterEnd(*chunk);
  }
}

struct GunzipInput::ZStream {
  z_stream z{};
  gz_header header{};  // done once a member's header is read whole
  bool ready = false;

  // To the start of a member; the header is told again (zlib forgets it).
  void Reset() {
    inflateReset(&z);
    header = gz_header{};
    inflateGetHeader(&z, &header);
  }
};

namespace {

// Decompressed bytes handed to the reader at a time: the first chunk also
// holds the head that MisreadWeakSignature looks at.
constexpr size_t kGunzipChunkBytes = 256 << 10;
static_assert(kGunzipChunkBytes >= kWeakSignatureHeadBytes);
// What Finish decompresses at most after a reader that stopped on an error:
// enough for tar's end blocks and record padding (10 KiB), not for a bomb.
constexpr uint64_t kFinishDrainBytes = 16 << 20;

// zlib's messages for a member's header that is not gzip's.
bool IsGzipHeaderProblem(absl::string_view what) {
  return what == "incorrect header check" || what == "unknown compression method" ||
         what == "unknown header flags set" || what == "header crc mismatch";
}

// zlib's words for what it found wrong, as a person who has never read
// RFC 1952 would put them.
std::string GzipProblem(const char* message) {
  const absl::string_view what = message != nullptr ? message : "";
  if (what == "incorrect data check") {
    return "gzip data corrupt: the CRC-32 of the decompressed data does not match the one stored "
           "(the content is damaged)";
  }
  if (what == "incorrect length check") {
    return "gzip data corrupt: the decompressed length does not match the length stored";
  }
  if (IsGzipHeaderProblem(what)) return absl::StrCat("gzip header corrupt: ", what);
  return absl::StrCat("gzip data corrupt: ", what.empty() ? "invalid compressed data" : what);
}

}  // namespace

bool GunzipInput::Starts(std::span<const uint8_t> head) {
  // RFC 1952: ID1 ID2 CM FLG, with FLG's top three bits reserved (zero).
  return head.size() >= 4 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 &&
         (head[3] & 0xe0) == 0;
}

GunzipInput::GunzipInput(ArchiveInput& upstream, FileState& file,
                         const std::vector<std::string>& member)
    : upstream_(upstream), file_(file), member_(member), z_(std::make_unique<ZStream>()) {
  // 16 + 15: a gzip wrapper (header, CRC-32 and length checked), 32 KiB window.
  z_->ready = inflateInit2(&z_->z, 16 + MAX_WBITS) == Z_OK;
  if (z_->ready) inflateGetHeader(&z_->z, &z_->header);
  if (!z_->ready) error_ = absl::ResourceExhaustedError("gzip: zlib could not be set up");
}

GunzipInput::~GunzipInput() {
  if (z_->ready) inflateEnd(&z_->z);
}

void GunzipInput::Fail(std::string reason) {
  if (error_.ok()) error_ = absl::DataLossError(std::move(reason));
}

void GunzipInput::TrailingData() {
  if (trailer_error_.ok()) {
    trailer_error_ = absl::DataLossError(
        absl::StrCat("data after the end of the gzip stream (after ", members_,
                     members_ == 1 ? " member" : " members", ") is not gzip: not examined"));
  }
  at_end_ = true;
}

bool GunzipInput::Refill() {
  absl::StatusOr<std::span<const uint8_t>> chunk = upstream_.Next();
  // The upstream's own failure is its owner's to report: failed() says so.
  if (!chunk.ok()) {
    error_ = chunk.status();
    return false;
  }
  in_ = *chunk;
  return !in_.empty();
}

size_t GunzipInput::Decompress() {
  if (out_.empty()) out_.resize(kGunzipChunkBytes);
  size_t produced = 0;
  while (produced < out_.size() && error_.ok() && !at_end_) {
    if (in_.empty() && !Refill()) {
      if (!error_.ok()) break;
      if (between_members_) {
        // The end, or a length cut short after a wrong CRC-32 (reported).
        at_end_ = true;
      } else if (members_ > 0 && z_->z.total_out == 0 && z_->header.done != 1) {
        // A byte or a partial header after the last member: no member.
        TrailingData();
      } else {
        Fail(absl::StrCat("gzip data truncated: the compressed stream ends before its end (",
                          total_out_ + produced, " bytes decompressed",
                          members_ > 0 ? absl::StrCat(", in member ", members_ + 1) : "", ")"));
      }
      break;
    }
    if (skip_ > 0) {
      const size_t n = std::min<size_t>(skip_, in_.size());
      in_ = in_.subspan(n);
      skip_ -= n;
      continue;
    }
    if (between_members_) {
      // Zero bytes pad a stream to a block (tapes, some writers).
      while (!in_.empty() && in_.front() == 0) in_ = in_.subspan(1);
      if (in_.empty()) continue;
      z_->Reset();
      between_members_ = false;
    }
    z_stream& z = z_->z;
    z.next_in = const_cast<Bytef*>(in_.data());
    z.avail_in = static_cast<uInt>(std::min<size_t>(in_.size(), UINT32_MAX));
    z.next_out = out_.data() + produced;
    z.avail_out = static_cast<uInt>(out_.size() - produced);
    const int r = inflate(&z, Z_NO_FLUSH);
    in_ = in_.subspan(in_.size() - z.avail_in);
    produced = out_.size() - z.avail_out;
    if (r == Z_STREAM_END) {
      ++members_;
      between_members_ = true;
      continue;
    }
    if (r == Z_OK || r == Z_BUF_ERROR) continue;
    const absl::string_view problem = z.msg != nullptr ? z.msg : "";
    if (r == Z_DATA_ERROR &&
        (problem == "incorrect data check" || problem == "incorrect length check")) {
      // The member's data came whole: the reader gets it, Finish the error,
      // and the next member is read. After a wrong CRC-32, zlib has not taken
      // the length that follows it.
      if (trailer_error_.ok()) {
        trailer_error_ = absl::DataLossError(absl::StrCat(
            GzipProblem(z.msg), members_ > 0 ? absl::StrCat(" (member ", members_ + 1, ")") : ""));
      }
      ++members_;
      between_members_ = true;
      skip_ = problem == "incorrect data check" ? 4 : 0;
      continue;
    }
    if (r == Z_DATA_ERROR && members_ > 0 && z.total_out == 0 && IsGzipHeaderProblem(problem)) {
      TrailingData();  // not another member
      break;
    }
    Fail(r == Z_MEM_ERROR ? "gzip: out of memory" : GzipProblem(z.msg));
  }
  if (total_out_ < kWeakSignatureHeadBytes) {
    const size_t keep = std::min<size_t>(produced, kWeakSignatureHeadBytes - total_out_);
    head_.insert(head_.end(), out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  total_out_ += produced;
  return produced;
}

absl::StatusOr<std::span<const uint8_t>> GunzipInput::Next() {
  if (error_.ok() && !at_end_) {
    const size_t produced = Decompress();
    // What came before an error is served first; the error on the next call.
    if (produced > 0) return std::span<const uint8_t>(out_.data(), produced);
  }
  if (!error_.ok()) {
    error_returned_ = true;
    return error_;
  }
  return std::span<const uint8_t>();
}

StreamHead GunzipInput::Head(size_t max_bytes) {
  const size_t n = std::min(max_bytes, head_.size());
  return {.bytes = std::span<const uint8_t>(head_).first(n),
          .whole = at_end_ && error_.ok() && total_out_ == n};
}

bool GunzipInput::Rewind() {
  // An error in the gzip data comes again on the same bytes; the upstream's
  // own error ends it.
  if (upstream_.failed() || !z_->ready || !upstream_.Rewind()) return false;
  z_->Reset();
  in_ = {};
  between_members_ = false;
  at_end_ = false;
  skip_ = 0;
  error_ = absl::OkStatus();
  error_returned_ = false;
  trailer_error_ = absl::OkStatus();
  total_out_ = 0;
  members_ = 0;
  head_.clear();
  return true;
}

std::vector<std::string> GunzipInput::Finish(bool reader_stopped_early) {
  uint64_t drained = 0;
  while (error_.ok() && !at_end_ && !file_.stopped() && !file_.TimeUp(member_)) {
    // After the reader stopped on an error of its own (a member over its
    // limit), the rest is not decompressed just to check the trailers.
    if (reader_stopped_early && drained >= kFinishDrainBytes) break;
    const size_t produced = Decompress();
    CheckAfterEnd(std::span<const uint8_t>(out_.data(), produced));
    drained += produced;
    if (reader_stopped_early) {
      file_.stats.bytes_decompressed += produced;
    } else if (file_.CountDecompressed(member_, produced)) {
      break;
    }
  }
  std::vector<std::string> problems;
  if (!trailer_error_.ok()) problems.emplace_back(trailer_error_.message());
  // An upstream failure is reported by the upstream's owner.
  if (!error_.ok() && !error_returned_ && !upstream_.failed()) {
    error_returned_ = true;
    problems.emplace_back(error_.message());
  }
  return problems;
}

}  // namespace offboard::agent
