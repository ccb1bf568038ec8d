// The "redact_records" wipe action: writes a derived copy again without the
// lines that hold records of the bank's datasets, so that the vendor keeps the
// rest of the file (its own columns, other customers' rows, the CSV header).
//
//   common::UniqueFd dest(::open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
//   OFFBOARD_ASSIGN_OR_RETURN(RedactionResult result,
//       RedactRecords(source.get(), dest.get(), index, {"customers"}, path));
//   // fsync dest, rename it over the original, then wipe the original's blocks.
//
// A line is what ends after an LF (or the end of the file); its bytes, CRLF
// included, are copied unchanged or dropped whole. Whether a line holds a
// record is DerivedMatcher's question (agent/scan/derived_matcher.h) asked of
// that one line: an identifier the dataset's regex finds whose HMAC is in the
// dataset's digests. A CSV header line therefore stays unless it itself holds
// an identifier.
//
// Limits of line-based redaction, which the caller must report honestly:
// - A record spanning several physical lines loses only the lines holding an
//   identifier. A quoted CSV field with an embedded newline (an address, a
//   note), or a pretty-printed JSON object, leaves the record's other physical
//   lines in the output; an unbalanced quote may also make a CSV reader of the
//   output misparse what follows. Scan the output again; if that matters, wipe
//   the whole file instead.
// - Only identifiers the regex finds are recognised: a record whose identifier
//   was reformatted (spaces, lower case) or left out stays.
// - Files with CR-only line endings are one line, dropped whole if it holds a
//   record (or refused when longer than kMaxRedactedLineBytes).
// - A line longer than kMaxRedactedLineBytes (1 MiB, the line size
//   DerivedMatcher examines whole) is refused with RESOURCE_EXHAUSTED naming the
//   file and the line number, rather than judged in pieces: memory stays
//   bounded and no overlong line is kept or dropped on a partial look.
//
// Memory: a 256 KiB read buffer, a line cut by a read, and the kept lines not
// yet written (64 KiB plus one line): under 3 MiB.
// Thread-safe: RedactRecords keeps no state; calls on distinct destinations
// may run at once and may share the index.
#ifndef OFFBOARD_AGENT_WIPE_RECORD_REDACTOR_H_
#define OFFBOARD_AGENT_WIPE_RECORD_REDACTOR_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/scan/derived_matcher.h"

namespace offboard::agent {

// The longest line, line ending included, that RedactRecords accepts.
inline constexpr size_t kMaxRedactedLineBytes = size_t{1} << 20;

struct RedactionResult {
  uint64_t lines_read = 0;     // the last line counts even without a line ending
  uint64_t lines_removed = 0;  // lines holding a record of one of the datasets
  uint64_t bytes_written = 0;  // to dest_fd
};

// Copies the text in `source_fd` (read from offset 0 with pread; the caller
// keeps the fd, and the file must not change during the call) to `dest_fd`,
// written from offset 0 with pwrite, dropping every line that holds a record
// of one of `datasets`. `dest_fd` is an empty regular file that the caller
// created and will fsync and rename; nothing read from the source is written
// anywhere else. `display_path` names the source in error messages.
//
// Errors, each naming display_path:
// - INVALID_ARGUMENT: `datasets` empty or naming a dataset not in `index`, or
//   both fds refer to the same file;
// - FAILED_PRECONDITION: the source holds a NUL byte ("not a text file"), or
//   dest_fd is not an empty regular file;
// - RESOURCE_EXHAUSTED: a line longer than kMaxRedactedLineBytes (its number
//   is in the message);
// - read and write errors as common::ErrnoToStatus maps them.
// On error dest_fd may hold the start of the output (only lines that would
// have been kept); the caller discards it like any other copy.
absl::StatusOr<RedactionResult> RedactRecords(int source_fd, int dest_fd,
                                              const FingerprintIndex& index,
                                              const absl::flat_hash_set<std::string>& datasets,
                                              absl::string_view display_path);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_RECORD_REDACTOR_H_
