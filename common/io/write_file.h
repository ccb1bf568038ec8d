// Writing a file so that readers see either the old or the whole new content,
// also across a crash: reports, attestations, journals' snapshots.
// Thread-safe: no shared state (two writers of one path race as rename does).
#ifndef OFFBOARD_COMMON_IO_WRITE_FILE_H_
#define OFFBOARD_COMMON_IO_WRITE_FILE_H_

#include <sys/types.h>

#include <boost/filesystem/path.hpp>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

// Whether an existing file at the target may be replaced.
enum class ExistingFile {
  kReplace,  // rename over it
  kKeep,     // fail with ALREADY_EXISTS (keys are never overwritten)
};

// Writes `contents` to a temporary file beside `path` (a fresh name each
// time, so a crash leaves nothing that blocks the next attempt), fsyncs it,
// moves it to `path` (rename, or link when the existing file must be kept)
// and fsyncs the directory. Errors name the path; on error the temporary file
// is removed and `path` is unchanged.
absl::Status WriteFileAtomically(const boost::filesystem::path& path, absl::string_view contents,
                                 mode_t mode = 0644,
                                 ExistingFile existing = ExistingFile::kReplace);

// Fsyncs the directory `dir`, so that the entries created, renamed or
// removed in it survive a power loss. A filesystem that cannot sync a
// directory (EINVAL, ENOTSUP) is not an error. The errno status of open,
// naming `dir`; INTERNAL for a failed sync.
absl::Status SyncDirectory(const boost::filesystem::path& dir);

// Creates `dir` and any missing parents, and makes each new one durable by
// fsyncing the directory that holds it. INTERNAL naming the directory that
// could not be created.
absl::Status CreateDirectoriesDurably(const boost::filesystem::path& dir);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_IO_WRITE_FILE_H_
