// Removes members from an archive by writing the archive again without them:
// how the wipe engine deletes a bank's file that sits inside a vendor's tar,
// zip, 7z or cpio archive while the vendor's other members stay as they were.
//
//   UniqueFd dest(::open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
//   absl::StatusOr<ArchiveRewriteResult> rewritten = RewriteArchiveWithout(
//       source.get(), dest.get(), {{"customers.csv"}, {"inner.zip", "x.csv"}}, path);
//   if (!rewritten.ok()) ...;  // discard `dest`; apply the policy for the code
//   // fsync dest, rename it over the source, then wipe the old blocks.
//
// The new archive has the source's format and compression filters, in the same
// order, and every kept entry with its metadata and data (libarchive
// re-encodes headers and compressed streams, so the bytes differ). A member of
// a nested archive is removed by rewriting that nested archive in memory and
// storing it again as the new content of its member; decompressed data never
// goes to disk. Deleted-member data never reaches the writer at all.
//
// Thread-safe: keeps no state; one call uses one thread (it switches only the
// calling thread's locale, to name members as the scanner does).
#ifndef OFFBOARD_AGENT_WIPE_ARCHIVE_REWRITER_H_
#define OFFBOARD_AGENT_WIPE_ARCHIVE_REWRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::agent {

struct ArchiveRewriteResult {
  // Member chains dropped, in archive order: those asked for, plus tar/cpio
  // hard links to a dropped member (the same file under another name).
  std::vector<std::vector<std::string>> removed;
  // Top-level entries written again, rewritten nested archives included.
  uint64_t members_kept = 0;
  // libarchive's name of the source's format, as read at its first entry,
  // e.g. "GNU tar format", "ZIP 2.0 (deflation)", "7-Zip".
  std::string format;
  // libarchive's names of the source's compression filters, innermost first
  // (the order in which they are applied when writing), e.g. {"gzip"}.
  std::vector<std::string> filters;
};

// Reads the archive in `source_fd` (with pread from offset 0: the caller keeps
// the fd and its file offset) and writes to `dest_fd`, an empty regular file
// the caller created and will fsync and rename, the same archive without the
// members named in `drop`.
//
// Each element of `drop` is a member chain as the scanner reports it (member
// names as stored, see MemberName): {"customers.csv"} drops a top-level
// member; {"inner.zip", "customers.csv"} drops a member of the nested archive
// inner.zip, which is rewritten in memory, at any depth. Every entry with a
// dropped name goes (tar may hold a name twice). A chain under a dropped
// member is covered by that drop.
//
// Writes: tar (ustar and v7 as pax-restricted, which keeps plain ustar
// headers where they suffice; pax; GNU), zip (store or deflate per entry,
// as in the source), 7z (compression re-chosen by libarchive: LZMA), cpio
// (odc, newc); filters gzip, bzip2, xz, lzma, lzip, zstd, lz4, compress.
// Caveats of libarchive's writers: the 7z writer stages the compressed data of
// the kept members (never of dropped ones) in an unlinked temporary file in
// $TMPDIR, also for a nested 7z, and lists empty entries and directories
// last; GNU tar sparse members come out dense.
//
// On any error `dest_fd` holds a partial archive that must be discarded.
// Errors name `display_path` and the member chain:
//   UNIMPLEMENTED: a format or filter libarchive reads but cannot write (rar,
//     cab, lha, xar, iso9660, ar, warc, cpio other than odc/newc, uuencode,
//     rpm), a compressed single file (.gz) at the top (IsCompressedSingleFile;
//     one nested in an archive is dropped as a whole member instead), or an
//     entry the target format cannot hold.
//   NOT_FOUND: a chain of `drop` names no member, or the source is no
//     archive (the partial output must then not be used).
//   DATA_LOSS: corrupt or truncated source, or a kept encrypted entry.
//   RESOURCE_EXHAUSTED: a nested archive to rewrite, or its rewritten form,
//     is over `max_inner_bytes`.
//   INVALID_ARGUMENT: an empty chain or member name in `drop`.
//   Other codes: reading `source_fd` or writing `dest_fd` failed (errno as
//     in ErrnoToStatus: a full disk is RESOURCE_EXHAUSTED too).
// The payload that marks the UNIMPLEMENTED status of a compressed single file
// (a .gz holding one stream): the whole file is the member, so the caller
// removes it whole. Nested ones inside an archive are dropped as members.
inline constexpr char kCompressedSingleFilePayload[] = "offboard.dev/wipe/compressed-single-file";
bool IsCompressedSingleFile(const absl::Status& status);

absl::StatusOr<ArchiveRewriteResult> RewriteArchiveWithout(
    int source_fd, int dest_fd, const std::vector<std::vector<std::string>>& drop,
    absl::string_view display_path, uint64_t max_inner_bytes = 256ull << 20);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_ARCHIVE_REWRITER_H_
