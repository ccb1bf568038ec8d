// Reading a whole (small) file into memory: inventories, fingerprint sets,
// policies, keys, envelopes. Errors name the path; a size cap keeps a hostile
// or mistaken input from exhausting memory. Large inputs read in one pass are
// better mapped (mapped_file.h).
//
// Thread-safe: no shared state.
#ifndef OFFBOARD_COMMON_IO_READ_FILE_H_
#define OFFBOARD_COMMON_IO_READ_FILE_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/statusor.h"

namespace offboard::common {

// All bytes of `path`. The size from fstat is only a hint: a file that grows
// while it is read is still read to its end. NOT_FOUND / PERMISSION_DENIED /
// INTERNAL name the path; INVALID_ARGUMENT when the file holds more than
// `max_bytes`.
absl::StatusOr<std::string> ReadFileToString(
    const boost::filesystem::path& path, uint64_t max_bytes = std::numeric_limits<uint64_t>::max());

// The same for a file already open as `fd`, read from its current offset to
// its end; `path` only names it in errors. The caller keeps and closes `fd`.
absl::StatusOr<std::string> ReadFdToString(
    int fd, const boost::filesystem::path& path,
    uint64_t max_bytes = std::numeric_limits<uint64_t>::max());

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_IO_READ_FILE_H_
