// The seam between libarchive and the stream examiner: a libarchive reader
// that pulls its bytes from an ArchiveInput — the file on disk, or the data of
// a member of an enclosing archive while it is being decompressed — so that
// nested archives stream from their parent and nothing is extracted to disk.
//
//   FileInput input(...);                       // some ArchiveInput
//   absl::StatusOr<ArchiveReader> reader = OpenArchiveReader(input);
//   archive_read_next_header(reader->get(), &entry);  // formats are bid here
//   switch (ClassifyStream(reader->get())) { ... }
//
// Not thread-safe: a reader and its input belong to one thread.
#ifndef OFFBOARD_AGENT_SCAN_ARCHIVE_SOURCE_H_
#define OFFBOARD_AGENT_SCAN_ARCHIVE_SOURCE_H_

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::agent {

// The first bytes of a stream, in the input's own memory, valid until the
// input is read again or asked again. Fewer than asked for, or none, when they
// can no longer be had.
struct StreamHead {
  std::span<const uint8_t> bytes;
  bool whole = false;  // `bytes` is all of the stream
};

// Where a libarchive reader gets its (possibly compressed) bytes.
class ArchiveInput {
 public:
  virtual ~ArchiveInput() = default;
  // The next chunk of the stream, valid until the next call; empty at the
  // end. An error is final: the reader fails, and the input's owner reports it.
  virtual absl::StatusOr<std::span<const uint8_t>> Next() = 0;
  // True once Next has returned an error.
  virtual bool failed() const = 0;
  // Random access, for formats that need it (7z, seekable zip). Only inputs
  // that return true here are ever asked to Seek.
  virtual bool seekable() const { return false; }
  // As lseek(2): returns the new position, or -1.
  virtual int64_t Seek(int64_t /*offset*/, int /*whence*/) { return -1; }
  // Skips up to `request` bytes without reading them; returns how many were
  // skipped. 0 makes libarchive read through them instead.
  virtual int64_t Skip(int64_t /*request*/) { return 0; }
  // The first bytes of the stream, up to `max_bytes`, wherever it has been
  // read to, without feeding any digest (see StreamHead).
  virtual StreamHead Head(size_t /*max_bytes*/) { return {}; }
  // The stream's size when told up front (a file's, or what a member's
  // header declares); a hint, not checked.
  virtual std::optional<uint64_t> KnownSize() const { return std::nullopt; }
  // Back to the start of the stream, for another reader; false when it can
  // no longer be read again. The digest does not see the same bytes twice.
  virtual bool Rewind() { return false; }
  // No Rewind will come: what was kept for it can go.
  virtual void StopRewinding() {}

  // Data after an archive's end marker (tar's zero blocks, cpio's trailer)
  // is read by no reader: a second tar after the first (`cat a.tar b.tar`),
  // the compressed cpio after an initramfs's first one. Called when `reader`,
  // which reads this input with no filter of its own, met the end of its tar
  // or cpio archive: what follows must be zeros (padding). Checks what the
  // input gave the reader past the end, reads the rest of a file, and checks
  // what the input's owner reads of the rest later (Drain, Finish).
  void ExpectZerosAfterEnd(archive* reader, absl::string_view format);
  // ExpectZerosAfterEnd was called: the reader went to its archive's end.
  bool archive_ended() const { return archive_ended_; }
  // Where in the stream the first byte after the archive's end lies that is
  // not zero, once one was seen.
  std::optional<uint64_t> data_after_end() const { return data_after_end_; }
  // The ended archive's format, as ExpectZerosAfterEnd was told.
  const std::string& ended_format() const { return ended_format_; }

  // For a reader's callbacks: Next, Skip and Seek, noting where the reader
  // is in the stream and keeping what it may not have consumed yet.
  void ReaderStarts();
  absl::StatusOr<std::span<const uint8_t>> NextForReader(archive* reader);
  int64_t SkipForReader(int64_t request);
  int64_t SeekForReader(int64_t offset, int whence);

 protected:
  // The stream's next bytes after those checked so far, read after the
  // archive's end: checked for data when the archive ended.
  void CheckAfterEnd(std::span<const uint8_t> bytes);
  // The stream's next `bytes` are known to be zeros (a hole in a file).
  void CheckedZerosAfterEnd(uint64_t bytes);
  // Reads and checks the rest of the stream, for an input whose owner would
  // not read it anyway (a file). What the reader was given, it does not read.
  virtual void ReadRestAfterEnd() {}

 private:
  uint64_t delivered_end_ = 0;  // the stream's offset after the last chunk given or skipped
  std::span<const uint8_t> last_chunk_;
  // A copy of what was given before last_chunk_ and libarchive had not
  // consumed when it asked for more (a header across chunks, or what its
  // bidders looked ahead at), ending where last_chunk_ starts.
  std::vector<uint8_t> history_;
  bool archive_ended_ = false;
  std::string ended_format_;
  uint64_t checked_end_ = 0;  // the stream's offset after the last byte checked
  std::optional<uint64_t> data_after_end_;
};

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadDeleter>;

// A reader over `input`, which must outlive it, with every filter and every
// format except mtree (an mtree "archive" names files on the local disk, which
// libarchive would open and read), plus "raw" and "empty" so that any stream
// opens; with `raw_only`, every filter but only "raw" and "empty". Filters are
// bid here, formats at the first archive_read_next_header. On failure, the
// status carries libarchive's message (DATA_LOSS).
absl::StatusOr<ArchiveReader> OpenArchiveReader(ArchiveInput& input, bool raw_only = false);

// A reader that takes the stream for content as it is: no filter, only the
// "raw" and "empty" formats.
absl::StatusOr<ArchiveReader> OpenContentReader(ArchiveInput& input);

// A reader of the outer layer: only the weak filter `filter_code` (compress,
// .lzma; libarchive's code), or any filter with a real signature (not those
// two) for a strong one or kAnyStrongFilter, and only the "raw" and "empty"
// formats. What it gives is then examined as a stream of its own (see
// StacksWeakSignature).
inline constexpr int kAnyStrongFilter = -1;
absl::StatusOr<ArchiveReader> OpenOuterFilterReader(ArchiveInput& input, int filter_code);

// The same over a buffer, with random access (for 7z members); `data` must
// outlive the reader.
absl::StatusOr<ArchiveReader> OpenArchiveMemory(std::span<const uint8_t> data);

// libarchive takes a stream for binary cpio (octal 070707, in either byte
// order) or for compress (.Z, 1f 9d) on its first two bytes alone, so some 3
// in 65,536 streams of random bytes (encrypted or compressed data, media)
// look like one of them and then fail to read, as "truncated" or "invalid
// compressed data". .lzma has no magic at all: a small properties byte and a
// power of two in the next four bytes are enough, as in the symbol table of
// every static library (.a), resource files in Java jars and browser .pak
// files ("Lzma library error: Corrupted input data"). Each would be an error
// on a file that was examined in full, and keep a wipe from ever being
// complete.
//
// ReadsWeakSignatureFormat: `a` reads the stream as one of these formats.
// MisreadWeakSignature: `a` (null when the stream failed to open) took the
// stream starting with `head` for one of them, although the bytes after the
// signature cannot begin it, or the stream ends before anything could follow
// its header: the stream is then no archive, and is content like any other
// (hashed and matched whole). A first header that a writer of the format
// could have made is trusted, so a real archive damaged after it is still an
// error.
bool ReadsWeakSignatureFormat(archive* a);
bool MisreadWeakSignature(archive* a, const StreamHead& head);
// `a` took what a filter gives for compress, .lzma or binary cpio: random
// bytes gzipped fail that way as often as bare ones. Such a stream is read one
// filter at a time (OpenOuterFilterReader), so that what the filter gives is
// judged by MisreadWeakSignature on its own first bytes.
bool StacksWeakSignature(archive* a);
// Bytes of the head MisreadWeakSignature looks at, at most: a binary cpio
// header and the longest name it can announce.
inline constexpr size_t kWeakSignatureHeadBytes = 26 + 65535;

enum class StreamKind {
  kPlain,           // no format and no compression: the content itself
  kCompressedFile,  // single-file gz/bz2/xz/zst/lz4/...: one member
  kArchive,         // tar, zip, 7z, cpio, iso9660, ...: members
};

// Call after the first archive_read_next_header returned `first_header`
// (ARCHIVE_OK, ARCHIVE_WARN or ARCHIVE_EOF). Content that starts with two
// zero blocks reads as an empty tar archive (disk images do); that is content,
// not an archive.
StreamKind ClassifyStream(archive* a, int first_header);

// Where an archive starts in `head` after zero blocks, when `head` starts
// with one or more of them (an empty tar, as ClassifyStream takes it) and the
// first block that is not zero is a tar header (its checksum holds) or starts
// with the signature of another archive or compressed stream the scan reads:
// an archive after an empty tar (`cat empty.tar b.tar`), which no reader
// examines. Bytes past `head` are not looked at.
std::optional<uint64_t> ArchiveAfterZeroBlocks(std::span<const uint8_t> head);

// The reader reads the stream as raw data ("raw" or "empty" format), so its
// one entry is the (decompressed) content. When ClassifyStream says
// kCompressedFile but this is false, the stream must be read again with a
// raw-only reader.
bool ReadsRawContent(archive* a);

// The member's path as stored, byte for byte where the format stores bytes.
// Formats that store names as Unicode (7z, zip's UTF-8 flag) give UTF-8 when
// a UTF-8 locale is in effect on this thread (see ScopedUtf8Locale). A name
// that libarchive cannot convert becomes "<entry N: name not decodable>".
std::string MemberName(archive_entry* entry, uint64_t index);

// The name of the one member of a compressed single file: `parent`'s last
// path component without its compression suffix (.gz, .bz2, .xz, .zst,
// .lz4, .Z, .lzma, .lz), once per compression layer; otherwise the parent
// name plus ".decompressed".
std::string DecompressedName(absl::string_view parent, int compression_layers);

// "7z\xBC\xAF\x27\x1C": a 7z archive, which can only be read with random access.
bool HasSevenZipSignature(std::span<const uint8_t> head);

// True when `head`, the first bytes of a stream, is plain text that none of
// the registered formats or filters can start with: valid UTF-8 without
// control characters other than tab, line breaks and form feed, none of the
// textual signatures (WARC, ar, bzip2) at its start, and no line starting
// with "begin" (uuencode, which libarchive finds after any preamble). Only a
// head that is the whole stream can rule uuencode out: it may begin further. Every compressed or
// binary container starts with bytes outside that set (gzip 1f 8b, zip "PK"
// 03 04, xz fd, zstd 28 b5, 7z bc af, tar and cpio NUL padding, iso9660
// zeros...), so such a stream needs no archive reader: the scanner's fast
// path for the many small files that are not candidates. A head that ends
// inside a multi-byte sequence counts as not plain text (conservative).
bool IsPlainTextHead(std::span<const uint8_t> head);

// Switches the calling thread to the C.UTF-8 locale while alive, so that
// libarchive converts Unicode member names to UTF-8 instead of failing in the
// "C" locale. Per-thread (uselocale), so other threads are not affected.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale();
  ~ScopedUtf8Locale();
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t previous_ = nullptr;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_ARCHIVE_SOURCE_H_
