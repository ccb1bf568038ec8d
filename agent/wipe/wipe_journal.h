// The wipe journal: a durable, append-only record of every wipe step, written
// before the step is taken, so that a wipe interrupted by a crash or a kill
// resumes where it stopped and the attestation claims only completed steps.
//
// One JSON object per line, each with a sequence number; Append returns only
// after the line and the file's size are on the medium (fdatasync). A line
// torn by a crash can only be the last one: Open drops it (and truncates it
// away) rather than failing, while a damaged line before the last is
// DATA_LOSS — the journal was tampered with or the disk is failing, and
// guessing would risk claiming steps that never happened.
//
//   OFFBOARD_ASSIGN_OR_RETURN(WipeJournal journal, WipeJournal::Open(dir / "wipe-journal.jsonl"));
//   for (const nlohmann::json& record : journal.records()) ...   // what happened before
//   OFFBOARD_RETURN_IF_ERROR(journal.Append({{"step", "pass"}, {"t", 3}, {"k", 0}}));
//
// Not thread-safe: one writer.
#ifndef OFFBOARD_AGENT_WIPE_WIPE_JOURNAL_H_
#define OFFBOARD_AGENT_WIPE_WIPE_JOURNAL_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "common/io/unique_fd.h"

namespace offboard::agent {

class WipeJournal {
 public:
  // Opens the journal at `path`, creating it (mode 0600) if missing, locks it
  // (FAILED_PRECONDITION while another process holds it: one wipe per data
  // directory) and reads what it holds. Errors name the path and, for
  // DATA_LOSS, the line.
  static absl::StatusOr<WipeJournal> Open(const boost::filesystem::path& path);

  // Every record read at Open plus those appended since, in order.
  const std::vector<nlohmann::json>& records() const { return records_; }
  const boost::filesystem::path& path() const { return path_; }

  // Adds "seq" to `record`, appends it as one line and makes it durable.
  absl::Status Append(nlohmann::json record);

 private:
  WipeJournal(boost::filesystem::path path, common::UniqueFd fd,
              std::vector<nlohmann::json> records)
      : path_(std::move(path)), fd_(std::move(fd)), records_(std::move(records)) {}

  boost::filesystem::path path_;
  common::UniqueFd fd_;
  std::vector<nlohmann::json> records_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_WIPE_JOURNAL_H_
