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

// Writes `contents` to a temporary file beside `path`, fsyncs it, renames it
// over `path` and fsyncs the directory. Errors name the path; on error the
// temporary file is removed and `path` is unchanged.
absl::Status WriteFileAtomically(const boost::filesystem::path& path, absl::string_view contents,
                                 mode_t mode = 0644);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_IO_WRITE_FILE_H_
