#include "agent/wipe/wipe_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {

absl::StatusOr<WipeJournal> WipeJournal::Open(const boost::filesystem::path& path) {
  common::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return common::ErrnoToStatus(errno, absl::StrCat("wipe journal ", path.string()));
  // One wipe per data directory: two would take each other's steps for their own.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "wipe journal ", path.string(), ": another wipe is running with this data directory"));
  }
  // The journal's name must survive a power loss as surely as its records:
  // without it a restart would not know that a wipe had begun.
  OFFBOARD_RETURN_IF_ERROR(common::SyncDirectory(
      path.has_parent_path() ? path.parent_path() : boost::filesystem::path(".")));
  OFFBOARD_ASSIGN_OR_RETURN(std::string text, common::ReadFdToString(fd.get(), path.string()));

  std::vector<nlohmann::json> records;
  size_t start = 0;
  size_t line_number = 0;
  size_t valid_end = 0;  // bytes up to the end of the last good line
  while (start < text.size()) {
    ++line_number;
    const size_t end = text.find('\n', start);
    const bool last = end == std::string::npos || end + 1 == text.size();
    const std::string line =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool good = end != std::string::npos && record.is_object() && record.contains("seq") &&
                      record["seq"].is_number_unsigned() &&
                      record["seq"].get<uint64_t>() == records.size();
    if (!good) {
      if (last) break;  // torn by a crash while it was being written
      return absl::DataLossError(absl::StrCat("wipe journal ", path.string(), " line ",
                                              line_number,
                                              ": damaged record before the end; refusing to "
                                              "resume from it"));
    }
    records.push_back(std::move(record));
    start = end + 1;
    valid_end = start;
  }
  if (valid_end < text.size()) {
    if (::ftruncate(fd.get(), static_cast<off_t>(valid_end)) != 0 || ::fdatasync(fd.get()) != 0) {
      return common::ErrnoToStatus(
          errno, absl::StrCat("wipe journal ", path.string(), ": dropping a torn last line"));
    }
  }
  return WipeJournal(path, std::move(fd), std::move(records));
}

absl::Status WipeJournal::Append(nlohmann::json record) {
  record["seq"] = records_.size();
  // Names are journaled as hex; anything else that is not UTF-8 (a mount
  // source, say) is only descriptive and may lose bytes.
  const std::string line =
      record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t written = ::write(fd_.get(), line.data() + done, line.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      return common::ErrnoToStatus(errno, absl::StrCat("wipe journal ", path_.string()));
    }
    done += static_cast<size_t>(written);
  }
  if (::fdatasync(fd_.get()) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fdatasync wipe journal ", path_.string()));
  }
  // Kept as read back, so that records() is the same before and after a restart.
  records_.push_back(nlohmann::json::parse(line));
  return absl::OkStatus();
}

}  // namespace offboard::agent
