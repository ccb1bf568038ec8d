// Line-by-line redaction of a derived copy; the contract is in
// record_redactor.h. The source is read in large chunks and lines are judged
// straight from the chunk; only a line cut by a chunk boundary is copied into
// a buffer, which is what bounds it to kMaxRedactedLineBytes.
#include "agent/wipe/record_redactor.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

constexpr size_t kReadBytes = size_t{256} << 10;
constexpr size_t kWriteBytes = size_t{64} << 10;

// The same error with the source's name in front.
absl::Status Naming(absl::string_view display_path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(display_path, ": ", status.message()));
}

absl::Status CheckFds(int source_fd, int dest_fd, absl::string_view display_path) {
  struct stat source, dest;
  if (::fstat(source_fd, &source) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fstat ", display_path));
  }
  if (::fstat(dest_fd, &dest) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fstat the redacted copy of ", display_path));
  }
  if (source.st_dev == dest.st_dev && source.st_ino == dest.st_ino) {
    return absl::InvalidArgumentError(
        absl::StrCat(display_path, ": the redacted copy cannot be written over the source"));
  }
  if (!S_ISREG(dest.st_mode) || dest.st_size != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(display_path, ": the redacted copy must go to an empty regular file"));
  }
  return absl::OkStatus();
}

// Judges the lines of one source in order and writes those without a record.
class LineFilter {
 public:
  LineFilter(const RecordDetector& detector, int dest_fd, absl::string_view display_path)
      : detector_(detector), dest_fd_(dest_fd), display_path_(display_path) {
    out_.reserve(kWriteBytes);
  }

  // The next bytes of the source, at `offset` in it.
  absl::Status Consume(absl::string_view text, uint64_t offset) {
    if (const size_t nul = text.find('\0'); nul != absl::string_view::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat(display_path_, ": not a text file (NUL byte at offset ", offset + nul,
                       "); records cannot be redacted line by line"));
    }
    while (!text.empty()) {
      const size_t newline = text.find('\n');
      const size_t length = newline == absl::string_view::npos ? text.size() : newline + 1;
      if (partial_.size() + length > kMaxRedactedLineBytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat(display_path_, ": line ", result_.lines_read + 1, " is longer than ",
                         kMaxRedactedLineBytes, " bytes; records cannot be redacted line by line"));
      }
      if (newline == absl::string_view::npos) {
        partial_.append(text.data(), text.size());
        break;
      }
      if (partial_.empty()) {
        OFFBOARD_RETURN_IF_ERROR(Line(text.substr(0, length)));
      } else {
        partial_.append(text.data(), length);
        OFFBOARD_RETURN_IF_ERROR(Line(partial_));
        partial_.clear();
      }
      text.remove_prefix(length);
    }
    return absl::OkStatus();
  }

  // After the last Consume: the last line, if it has no line ending.
  absl::StatusOr<RedactionResult> Finish() {
    if (!partial_.empty()) OFFBOARD_RETURN_IF_ERROR(Line(partial_));
    std::string().swap(partial_);
    OFFBOARD_RETURN_IF_ERROR(Flush());
    return result_;
  }

 private:
  absl::Status Line(absl::string_view line) {
    ++result_.lines_read;
    if (detector_.LineHoldsRecord(line)) {
      ++result_.lines_removed;
      return absl::OkStatus();
    }
    out_.append(line.data(), line.size());
    return out_.size() >= kWriteBytes ? Flush() : absl::OkStatus();
  }

  absl::Status Flush() {
    size_t done = 0;
    while (done < out_.size()) {
      const ssize_t n = ::pwrite(dest_fd_, out_.data() + done, out_.size() - done,
                                 static_cast<off_t>(result_.bytes_written));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return common::ErrnoToStatus(n < 0 ? errno : EIO,
                                     absl::StrCat("write the redacted copy of ", display_path_));
      }
      done += static_cast<size_t>(n);
      result_.bytes_written += static_cast<uint64_t>(n);
    }
    out_.clear();
    return absl::OkStatus();
  }

  const RecordDetector& detector_;
  const int dest_fd_;
  const absl::string_view display_path_;
  std::string partial_;  // a line cut by the end of a read
  std::string out_;      // kept lines not yet written
  RedactionResult result_;
};

}  // namespace

absl::StatusOr<RedactionResult> RedactRecords(int source_fd, int dest_fd,
                                              const FingerprintIndex& index,
                                              const absl::flat_hash_set<std::string>& datasets,
                                              absl::string_view display_path) {
  absl::StatusOr<RecordDetector> detector = RecordDetector::Create(index, datasets);
  if (!detector.ok()) return Naming(display_path, detector.status());
  OFFBOARD_RETURN_IF_ERROR(CheckFds(source_fd, dest_fd, display_path));

  LineFilter filter(*detector, dest_fd, display_path);
  std::vector<char> buffer(kReadBytes);
  uint64_t offset = 0;
  while (true) {
    const ssize_t n = ::pread(source_fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return common::ErrnoToStatus(errno, absl::StrCat("read ", display_path));
    if (n == 0) break;
    OFFBOARD_RETURN_IF_ERROR(
        filter.Consume(absl::string_view(buffer.data(), static_cast<size_t>(n)), offset));
    offset += static_cast<uint64_t>(n);
  }
  return filter.Finish();
}

}  // namespace offboard::agent
