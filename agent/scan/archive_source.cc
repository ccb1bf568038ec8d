#include "agent/scan/archive_source.h"

#include <lzma.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/encoding/utf8.h"

namespace offboard::agent {
namespace {

la_ssize_t ReadCallback(archive* a, void* client_data, const void** buffer) {
  absl::StatusOr<std::span<const uint8_t>> chunk =
      static_cast<ArchiveInput*>(client_data)->NextForReader(a);
  if (!chunk.ok()) {
    archive_set_error(a, EIO, "%s", std::string(chunk.status().message()).c_str());
    return -1;
  }
  *buffer = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

la_int64_t SeekCallback(archive* /*a*/, void* client_data, la_int64_t offset, int whence) {
  return static_cast<ArchiveInput*>(client_data)->SeekForReader(offset, whence);
}

la_int64_t SkipCallback(archive* /*a*/, void* client_data, la_int64_t request) {
  return static_cast<ArchiveInput*>(client_data)->SkipForReader(request);
}

absl::Status LibarchiveError(archive* a, absl::string_view what) {
  const char* message = archive_error_string(a);
  return absl::DataLossError(message != nullptr ? std::string(message)
                                                : absl::StrCat(what, " failed"));
}

// Everything archive_read_support_format_all registers in libarchive 3.6, in
// the same order (ties in bidding go to the first), except mtree (its entries
// name files on the local disk, which libarchive would open); then raw.
// Filters: only those libarchive decodes in-process. filter_all would also
// register lrzip, lzop and grzip, which run external programs on the vendor's
// data; such files fail to open and are reported as errors instead.
constexpr int kInProcessFilters[] = {
    ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_BZIP2, ARCHIVE_FILTER_XZ,  ARCHIVE_FILTER_LZMA,
    ARCHIVE_FILTER_LZIP, ARCHIVE_FILTER_ZSTD,  ARCHIVE_FILTER_LZ4, ARCHIVE_FILTER_COMPRESS,
    ARCHIVE_FILTER_UU,   ARCHIVE_FILTER_RPM};
// The same without the two that bid on a weak signature (compress, .lzma).
constexpr int kStrongFilters[] = {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_BZIP2, ARCHIVE_FILTER_XZ,
                                  ARCHIVE_FILTER_LZIP, ARCHIVE_FILTER_ZSTD,  ARCHIVE_FILTER_LZ4,
                                  ARCHIVE_FILTER_UU,   ARCHIVE_FILTER_RPM};

ArchiveReader NewReader(bool raw_only, std::span<const int> filters = kInProcessFilters) {
  ArchiveReader reader(archive_read_new());
  if (!reader) return reader;
  archive* a = reader.get();
  for (const int code : filters) archive_read_support_filter_by_code(a, code);
  if (raw_only) {
    archive_read_support_format_empty(a);
    archive_read_support_format_raw(a);
    return reader;
  }
  archive_read_support_format_ar(a);
  archive_read_support_format_cpio(a);
  archive_read_support_format_empty(a);
  archive_read_support_format_lha(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_xar(a);
  archive_read_support_format_warc(a);
  archive_read_support_format_7zip(a);
  archive_read_support_format_cab(a);
  archive_read_support_format_rar(a);
  archive_read_support_format_rar5(a);
  archive_read_support_format_iso9660(a);
  archive_read_support_format_zip(a);
  archive_read_support_format_raw(a);
  return reader;
}

// The fixed part of a binary cpio header: magic, dev, ino, mode, uid, gid,
// nlink, rdev (2 bytes each), mtime (4), namesize (2), filesize (4).
constexpr size_t kBinaryCpioHeaderBytes = 26;
constexpr size_t kBinaryCpioModeAt = 6;
constexpr size_t kBinaryCpioNameSizeAt = 20;

bool StartsWith(std::span<const uint8_t> head, uint8_t first, uint8_t second) {
  return head.size() >= 2 && head[0] == first && head[1] == second;
}

// The first header of binary cpio as a cpio writer makes it: the name holds
// at least its terminating NUL, which is where the name size says, and the
// mode has a file type (0 in a trailer). A stream that ends inside the header
// or the name holds no member either.
bool PlausibleBinaryCpio(const StreamHead& head, bool big_endian) {
  const std::span<const uint8_t> bytes = head.bytes;
  if (bytes.size() < kBinaryCpioHeaderBytes) return !head.whole;
  const auto field = [&](size_t at) -> uint32_t {
    return big_endian ? bytes[at] * 256u + bytes[at + 1] : bytes[at] + bytes[at + 1] * 256u;
  };
  const uint32_t name_size = field(kBinaryCpioNameSizeAt);
  if (name_size == 0) return false;
  const size_t name_end = kBinaryCpioHeaderBytes + name_size;
  if (name_end > bytes.size()) return !head.whole;  // else a short read: cannot tell
  if (bytes[name_end - 1] != 0) return false;
  switch (field(kBinaryCpioModeAt) & 0170000) {
    case 0:        // no type: a trailer
    case 0010000:  // FIFO
    case 0020000:  // character device
    case 0040000:  // directory
    case 0060000:  // block device
    case 0100000:  // regular file
    case 0110000:  // network special (HP-UX), which GNU cpio still writes
    case 0120000:  // symbolic link
    case 0140000:  // socket
      return true;
    default:
      return false;
  }
}

// The start of a compress (.Z) stream: codes of at most 16 bits (decoders
// refuse more; fewer than 9 only stops the table from growing), and a first
// code (9 bits, least significant first) that is a byte or the clear code,
// since the table holds nothing else yet.
bool PlausibleCompress(const StreamHead& head) {
  const std::span<const uint8_t> bytes = head.bytes;
  if (bytes.size() < 3) return !head.whole;
  if ((bytes[2] & 0x1f) > 16) return false;
  if (bytes.size() < 5) return true;
  const unsigned first_code = bytes[3] | (bytes[4] & 1u) << 8;
  return first_code <= 256;
}

// The .lzma ("LZMA alone") header: a properties byte, the dictionary size
// and the uncompressed size (little-endian, all ones when unknown). No magic.
constexpr size_t kLzmaHeaderBytes = 13;
constexpr uint64_t kLzmaUnknownSize = ~uint64_t{0};

uint64_t LittleEndian(std::span<const uint8_t> bytes) {
  uint64_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) value = value << 8 | bytes[i];
  return value;
}

// What libarchive's lzma bidder takes for .lzma: a properties byte of at most
// 224 and a dictionary size that encoders write (a power of two from 4 KiB to
// 128 MiB, or, with the default properties and an unknown size, a whole
// number of MiB from 3 to 63).
bool BidsAsLzma(std::span<const uint8_t> bytes) {
  if (bytes.size() < kLzmaHeaderBytes + 1 || bytes[0] > 224) return false;
  const uint64_t dictionary = LittleEndian(bytes.subspan(1, 4));
  if (dictionary >= (1u << 12) && dictionary <= (1u << 27) &&
      (dictionary & (dictionary - 1)) == 0) {
    return true;
  }
  return (bytes[0] == 0x5d || bytes[0] == 0x5e) &&
         LittleEndian(bytes.subspan(5, 8)) == kLzmaUnknownSize && dictionary >= (3u << 20) &&
         dictionary <= (63u << 20) && dictionary % (1u << 20) == 0;
}

// Output a trial decode may give before it fails, and still count as
// garbage: impostors fail within their first few hundred bytes, a real
// stream damaged further in has yielded more by then.
constexpr uint64_t kLzmaGarbageOutputBytes = 1024;

// Whether `head` starts an .lzma stream that decodes: liblzma's own decoder
// for the format (the one libarchive uses) is run over it. A stream whose
// decoding fails before it gave kLzmaGarbageOutputBytes is no .lzma (the
// symbol table of a static library fails at once: the range coder's first
// byte must be 0; a matrix file after a few bytes). One that runs out of
// input, or decodes on, is trusted, so a real stream cut short or damaged
// further in is still read, and its error still reported. A whole stream
// shorter than a header and the range coder's 5 bytes decodes nothing.
bool PlausibleLzma(const StreamHead& head) {
  const std::span<const uint8_t> bytes = head.bytes;
  if (bytes.size() < kLzmaHeaderBytes + 5) return !head.whole;
  lzma_stream stream = LZMA_STREAM_INIT;
  if (lzma_alone_decoder(&stream, UINT64_MAX) != LZMA_OK) return true;  // cannot tell
  std::array<uint8_t, 4096> out;
  stream.next_in = bytes.data();
  stream.avail_in = bytes.size();
  lzma_ret result = LZMA_OK;
  while (result == LZMA_OK && stream.total_out < kLzmaGarbageOutputBytes) {
    stream.next_out = out.data();
    stream.avail_out = out.size();
    result = lzma_code(&stream, head.whole ? LZMA_FINISH : LZMA_RUN);
    // All of a head that is not the whole stream taken: it wants more.
    if (!head.whole && result == LZMA_OK && stream.avail_in == 0 && stream.avail_out != 0) break;
  }
  const uint64_t decoded = stream.total_out;
  lzma_end(&stream);
  const bool failed = result == LZMA_DATA_ERROR || result == LZMA_FORMAT_ERROR ||
                      result == LZMA_OPTIONS_ERROR || (result == LZMA_BUF_ERROR && head.whole);
  return !(failed && decoded < kLzmaGarbageOutputBytes);
}

// The filter next to the client reader (which counts as one) is `code`: the
// one that read the stream's own first bytes.
bool FilterReadsTheStream(archive* a, int code) {
  const int count = archive_filter_count(a);
  return count >= 2 && archive_filter_code(a, count - 2) == code;
}

// compress and .lzma: filters libarchive bids on a weak signature.
bool IsWeakFilter(int code) {
  return code == ARCHIVE_FILTER_COMPRESS || code == ARCHIVE_FILTER_LZMA;
}

bool IsBinaryCpio(int format) {
  return format == ARCHIVE_FORMAT_CPIO_BIN_LE || format == ARCHIVE_FORMAT_CPIO_BIN_BE;
}

constexpr const char* kCompressionSuffixes[] = {".gz",  ".bz2", ".xz",   ".zst",
                                                ".lz4", ".Z",   ".lzma", ".lz"};

// What NextForReader keeps of what libarchive holds unconsumed, at most:
// more than its bidders look ahead (7z's search for a self-extractor's
// archive goes furthest, 384 KiB).
constexpr uint64_t kMaxKeptBytes = 1 << 20;

// The offset of the first byte that is not zero.
std::optional<size_t> FirstNonZero(std::span<const uint8_t> bytes) {
  const auto found = std::find_if(bytes.begin(), bytes.end(), [](uint8_t b) { return b != 0; });
  if (found == bytes.end()) return std::nullopt;
  return static_cast<size_t>(found - bytes.begin());
}

}  // namespace

void ArchiveInput::ReaderStarts() {
  delivered_end_ = 0;
  last_chunk_ = {};
  history_.clear();
}

absl::StatusOr<std::span<const uint8_t>> ArchiveInput::NextForReader(archive* reader) {
  // What libarchive has not consumed it may still hold, in its own buffer or
  // in the last chunk, which is the input's memory that Next reads over:
  // keep a copy of it first. Its position in the stream is that of the
  // filter reading this input.
  const la_int64_t consumed = archive_filter_bytes(reader, -1);
  const uint64_t last_start = delivered_end_ - last_chunk_.size();
  const uint64_t history_start = last_start - history_.size();
  // No count (no filter yet): the last chunk, so that nothing grows. At most
  // kMaxKeptBytes: more is held only by a reader deep in a format that needs
  // it (an iso9660 directory), never at a tar's or cpio's end.
  const uint64_t keep_from =
      std::clamp(consumed >= 0 ? static_cast<uint64_t>(consumed) : last_start,
                 std::max(history_start, delivered_end_ - std::min(delivered_end_, kMaxKeptBytes)),
                 delivered_end_);
  if (keep_from < last_start) {
    history_.erase(history_.begin(),
                   history_.begin() + static_cast<std::ptrdiff_t>(keep_from - history_start));
  } else {
    history_.clear();
  }
  const size_t from_last = static_cast<size_t>(delivered_end_ - std::max(keep_from, last_start));
  history_.insert(history_.end(), last_chunk_.end() - static_cast<std::ptrdiff_t>(from_last),
                  last_chunk_.end());
  last_chunk_ = {};
  absl::StatusOr<std::span<const uint8_t>> chunk = Next();
  if (chunk.ok()) {
    last_chunk_ = *chunk;
    delivered_end_ += chunk->size();
  }
  return chunk;
}

int64_t ArchiveInput::SkipForReader(int64_t request) {
  const int64_t skipped = Skip(request);
  // libarchive skips only once it has consumed all it holds.
  if (skipped > 0) {
    last_chunk_ = {};
    history_.clear();
    delivered_end_ += static_cast<uint64_t>(skipped);
  }
  return skipped;
}

int64_t ArchiveInput::SeekForReader(int64_t offset, int whence) {
  const int64_t position = Seek(offset, whence);
  if (position >= 0) {
    last_chunk_ = {};
    history_.clear();
    delivered_end_ = static_cast<uint64_t>(position);
  }
  return position;
}

void ArchiveInput::ExpectZerosAfterEnd(archive* reader, absl::string_view format) {
  archive_ended_ = true;
  ended_format_ = std::string(format);
  checked_end_ = delivered_end_;
  const la_int64_t consumed = archive_filter_bytes(reader, 0);
  const uint64_t end = consumed > 0 ? static_cast<uint64_t>(consumed) : 0;
  const uint64_t last_start = delivered_end_ - last_chunk_.size();
  const uint64_t history_start = last_start - history_.size();
  if (end < history_start) {
    // Consumed bytes are never given back: only a broken count gets here,
    // and then what follows the end cannot be vouched for.
    data_after_end_ = end;
    return;
  }
  // What the reader was given past the end: the history's part, then the
  // last chunk's.
  for (const auto& [bytes, start] : {std::pair(std::span<const uint8_t>(history_), history_start),
                                     std::pair(last_chunk_, last_start)}) {
    if (end >= start + bytes.size()) continue;
    const size_t from = end > start ? static_cast<size_t>(end - start) : 0;
    if (const std::optional<size_t> at = FirstNonZero(bytes.subspan(from))) {
      data_after_end_ = start + from + *at;
      return;
    }
  }
  ReadRestAfterEnd();
}

void ArchiveInput::CheckAfterEnd(std::span<const uint8_t> bytes) {
  if (!archive_ended_) return;
  if (!data_after_end_) {
    if (const std::optional<size_t> at = FirstNonZero(bytes)) data_after_end_ = checked_end_ + *at;
  }
  checked_end_ += bytes.size();
}

void ArchiveInput::CheckedZerosAfterEnd(uint64_t bytes) { checked_end_ += bytes; }

namespace {

absl::StatusOr<ArchiveReader> OpenReader(ArchiveReader reader, ArchiveInput& input) {
  if (!reader) return absl::ResourceExhaustedError("archive_read_new failed");
  archive* a = reader.get();
  archive_read_set_read_callback(a, ReadCallback);
  archive_read_set_skip_callback(a, SkipCallback);
  if (input.seekable()) archive_read_set_seek_callback(a, SeekCallback);
  archive_read_set_callback_data(a, &input);
  input.ReaderStarts();
  if (archive_read_open1(a) != ARCHIVE_OK) return LibarchiveError(a, "archive_read_open");
  return reader;
}

}  // namespace

absl::StatusOr<ArchiveReader> OpenArchiveReader(ArchiveInput& input, bool raw_only) {
  return OpenReader(NewReader(raw_only), input);
}

absl::StatusOr<ArchiveReader> OpenContentReader(ArchiveInput& input) {
  return OpenReader(NewReader(/*raw_only=*/true, {}), input);
}

absl::StatusOr<ArchiveReader> OpenOuterFilterReader(ArchiveInput& input, int filter_code) {
  // A strong outer filter takes the strong ones inside it along, as a failed
  // open (which cannot say which filter it met) does: either way the reader
  // stops at the first weak layer.
  const int weak[] = {filter_code};
  return OpenReader(NewReader(/*raw_only=*/true, IsWeakFilter(filter_code)
                                                     ? std::span<const int>(weak)
                                                     : std::span<const int>(kStrongFilters)),
                    input);
}

absl::StatusOr<ArchiveReader> OpenArchiveMemory(std::span<const uint8_t> data) {
  ArchiveReader reader = NewReader(/*raw_only=*/false);
  if (!reader) return absl::ResourceExhaustedError("archive_read_new failed");
  if (archive_read_open_memory(reader.get(), data.data(), data.size()) != ARCHIVE_OK) {
    return LibarchiveError(reader.get(), "archive_read_open_memory");
  }
  return reader;
}

bool ReadsWeakSignatureFormat(archive* a) {
  const int count = archive_filter_count(a);
  return IsBinaryCpio(archive_format(a)) ||
         (count >= 2 && IsWeakFilter(archive_filter_code(a, count - 2)));
}

bool StacksWeakSignature(archive* a) {
  const int count = archive_filter_count(a);
  if (count < 2) return false;  // no filter: the client reader alone
  // Filters from the one nearest the format (0) to the one inside the filter
  // that reads the stream's own bytes (count - 2).
  for (int i = 0; i < count - 2; ++i) {
    if (IsWeakFilter(archive_filter_code(a, i))) return true;
  }
  return IsBinaryCpio(archive_format(a));
}

bool MisreadWeakSignature(archive* a, const StreamHead& head) {
  if (StartsWith(head.bytes, 0x1f, 0x9d) &&
      (a == nullptr || FilterReadsTheStream(a, ARCHIVE_FILTER_COMPRESS))) {
    return !PlausibleCompress(head);
  }
  if (a == nullptr ? BidsAsLzma(head.bytes) : FilterReadsTheStream(a, ARCHIVE_FILTER_LZMA)) {
    return !PlausibleLzma(head);
  }
  // `head` is what the format saw only when no filter decompressed it.
  if (a == nullptr || archive_filter_count(a) > 1) return false;
  // 070707 octal is 0x71c7.
  const int format = archive_format(a);
  if (format == ARCHIVE_FORMAT_CPIO_BIN_LE && StartsWith(head.bytes, 0xc7, 0x71)) {
    return !PlausibleBinaryCpio(head, /*big_endian=*/false);
  }
  if (format == ARCHIVE_FORMAT_CPIO_BIN_BE && StartsWith(head.bytes, 0x71, 0xc7)) {
    return !PlausibleBinaryCpio(head, /*big_endian=*/true);
  }
  return false;
}

bool ReadsRawContent(archive* a) {
  const int base = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
  return base == ARCHIVE_FORMAT_RAW || base == ARCHIVE_FORMAT_EMPTY;
}

StreamKind ClassifyStream(archive* a, int first_header) {
  const bool empty_tar = (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR &&
                         first_header == ARCHIVE_EOF;
  if (ReadsRawContent(a) || empty_tar) {
    // The client reader itself counts as one filter ("none").
    return archive_filter_count(a) <= 1 ? StreamKind::kPlain : StreamKind::kCompressedFile;
  }
  return StreamKind::kArchive;
}

namespace {

constexpr size_t kTarBlock = 512;

// The header's checksum field (octal, at 148) matches the sum of its bytes
// with the field counted as spaces; old writers summed signed bytes.
bool TarChecksumHolds(std::span<const uint8_t> block) {
  constexpr size_t kField = 148, kFieldBytes = 8;
  uint64_t written = 0;
  size_t i = kField;
  while (i < kField + kFieldBytes && (block[i] == ' ' || block[i] == 0)) ++i;
  const size_t digits_start = i;
  for (; i < kField + kFieldBytes && block[i] >= '0' && block[i] <= '7'; ++i) {
    written = written * 8 + (block[i] - '0');
  }
  if (i == digits_start || (i < kField + kFieldBytes && block[i] != ' ' && block[i] != 0)) {
    return false;
  }
  uint64_t unsigned_sum = ' ' * kFieldBytes;
  int64_t signed_sum = ' ' * kFieldBytes;
  for (size_t k = 0; k < kTarBlock; ++k) {
    if (k >= kField && k < kField + kFieldBytes) continue;
    unsigned_sum += block[k];
    signed_sum += static_cast<int8_t>(block[k]);
  }
  return written == unsigned_sum || static_cast<int64_t>(written) == signed_sum;
}

// The stream starts like an archive or compressed stream the scan reads, by
// a signature long enough that text does not start with it by chance.
bool StartsLikeArchive(std::string_view bytes) {
  static constexpr std::string_view kSignatures[] = {
      std::string_view("\x1f\x8b\x08", 3),              // gzip
      std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6),  // xz
      std::string_view("\x28\xb5\x2f\xfd", 4),          // zstd
      std::string_view("7z\xbc\xaf\x27\x1c", 6),        // 7z
      std::string_view("PK\x03\x04", 4),                // zip
  };
  for (const std::string_view signature : kSignatures) {
    if (bytes.starts_with(signature)) return true;
  }
  const auto digits = [&](size_t from, size_t count, std::string_view allowed) {
    if (bytes.size() < from + count) return false;
    return std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(from),
                       bytes.begin() + static_cast<std::ptrdiff_t>(from + count),
                       [&](char c) { return allowed.find(c) != std::string_view::npos; });
  };
  // bzip2: its level, then the magic of a first block or of the end.
  if (bytes.size() >= 10 && bytes.starts_with("BZh") && bytes[3] >= '1' && bytes[3] <= '9' &&
      (bytes.substr(4, 6) == "1AY&SY" || bytes.substr(4, 6) == "\x17rE8P\x90")) {
    return true;
  }
  // cpio: newc and crc (hexadecimal fields), odc (octal fields).
  if ((bytes.starts_with("070701") || bytes.starts_with("070702")) &&
      digits(6, 8, "0123456789abcdefABCDEF")) {
    return true;
  }
  return bytes.starts_with("070707") && digits(6, 6, "01234567");
}

}  // namespace

std::optional<uint64_t> ArchiveAfterZeroBlocks(std::span<const uint8_t> head) {
  // The last block may be short: a signature needs only its first bytes.
  for (size_t at = 0; at < head.size(); at += kTarBlock) {
    const std::span<const uint8_t> block = head.subspan(at, std::min(kTarBlock, head.size() - at));
    if (!FirstNonZero(block)) continue;
    if (at == 0) return std::nullopt;
    const bool archive = (block.size() == kTarBlock && TarChecksumHolds(block)) ||
                         StartsLikeArchive(std::string_view(
                             reinterpret_cast<const char*>(block.data()), block.size()));
    return archive ? std::optional<uint64_t>(at) : std::nullopt;
  }
  return std::nullopt;
}

std::string MemberName(archive_entry* entry, uint64_t index) {
  if (const char* name = archive_entry_pathname(entry); name != nullptr) return name;
  if (const char* name = archive_entry_pathname_utf8(entry); name != nullptr) return name;
  return absl::StrCat("<entry ", index, ": name not decodable>");
}

std::string DecompressedName(absl::string_view parent, int compression_layers) {
  if (const size_t slash = parent.rfind('/'); slash != absl::string_view::npos) {
    parent.remove_prefix(slash + 1);
  }
  absl::string_view name = parent;
  for (int layer = 0; layer < compression_layers; ++layer) {
    bool stripped = false;
    for (const char* suffix : kCompressionSuffixes) {
      if (name.size() > absl::string_view(suffix).size() && absl::EndsWith(name, suffix)) {
        name.remove_suffix(absl::string_view(suffix).size());
        stripped = true;
        break;
      }
    }
    if (!stripped) return absl::StrCat(parent, ".decompressed");
  }
  return std::string(name);
}

bool HasSevenZipSignature(std::span<const uint8_t> head) {
  static constexpr uint8_t kSignature[] = {'7', 'z', 0xBC, 0xAF, 0x27, 0x1C};
  if (head.size() < sizeof(kSignature)) return false;
  for (size_t i = 0; i < sizeof(kSignature); ++i) {
    if (head[i] != kSignature[i]) return false;
  }
  return true;
}

ScopedUtf8Locale::ScopedUtf8Locale() {
  // Created once and kept for the life of the process, as locales are meant to be.
  static const locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", static_cast<locale_t>(0));
  if (utf8 != static_cast<locale_t>(0)) previous_ = uselocale(utf8);
}

ScopedUtf8Locale::~ScopedUtf8Locale() {
  if (previous_ != nullptr) uselocale(previous_);
}

namespace {

// What a run of text holds that matters to IsPlainTextHead.
struct TextFlags {
  uint8_t control = 0;    // a control character other than \t \n \v \f \r, or DEL
  uint8_t non_ascii = 0;  // a byte from 0x80 on (UTF-8 is checked apart)
  uint8_t newline_b = 0;  // "\nb": a line may start with "begin"
};

// One byte's flags, without branches. `next` is the byte after it (0 at the end).
inline void AddTextByte(uint8_t byte, uint8_t next, TextFlags& flags) {
  // Tab, line feed, vertical tab, form feed and carriage return are 9..13.
  flags.control |= static_cast<uint8_t>((byte < 0x20) & (static_cast<uint8_t>(byte - 9) >= 5)) |
                   static_cast<uint8_t>(byte == 0x7f);
  flags.non_ascii |= byte & 0x80;
  flags.newline_b |= static_cast<uint8_t>((byte == '\n') & (next == 'b'));
}

// Sixteen bytes per step in the compiler's vector types (SSE2 on x86-64,
// NEON on arm64, plain code elsewhere), folded to flags once at the end: the
// check runs over every byte of every small file a scan meets, most of which
// are text, and a fold per step cost as much as the step.
using Bytes16 = uint8_t __attribute__((vector_size(16)));

inline Bytes16 Load16(const uint8_t* bytes) {
  Bytes16 vector;
  std::memcpy(&vector, bytes, sizeof(vector));
  return vector;
}

inline uint8_t AnyByteSet(Bytes16 vector) {
  uint64_t halves[2];
  std::memcpy(halves, &vector, sizeof(halves));
  return static_cast<uint8_t>((halves[0] | halves[1]) != 0);
}

}  // namespace

bool IsPlainTextHead(std::span<const uint8_t> head) {
  const absl::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
  for (const absl::string_view signature : {"WARC/", "!<arch>", "BZh", "begin"}) {
    if (absl::StartsWith(text, signature)) return false;
  }
  // No control character but whitespace, and no line starting with "begin"
  // (libarchive's uudecode filter finds one anywhere in its first 128 KiB,
  // after any preamble such as an e-mail body). Bytes from 0x80 on are left
  // to the UTF-8 check.
  const uint8_t* const data = head.data();
  const size_t size = head.size();
  Bytes16 control{};
  Bytes16 bytes_or{};
  Bytes16 newline_b{};
  size_t i = 0;
  // Each step reads one byte past its sixteen, for "\nb" across steps.
  for (; i + sizeof(Bytes16) < size; i += sizeof(Bytes16)) {
    const Bytes16 byte = Load16(data + i);
    const Bytes16 next = Load16(data + i + 1);
    // Comparisons give 0 or 0xff per byte; the same tests as AddTextByte.
    control |= reinterpret_cast<Bytes16>((byte < 0x20) & (byte - 9 >= 5)) |
               reinterpret_cast<Bytes16>(byte == 0x7f);
    bytes_or |= byte;
    newline_b |= reinterpret_cast<Bytes16>((byte == '\n') & (next == 'b'));
  }
  TextFlags flags{.control = AnyByteSet(control),
                  .non_ascii = AnyByteSet(bytes_or & 0x80),
                  .newline_b = AnyByteSet(newline_b)};
  for (; i < size; ++i) AddTextByte(data[i], i + 1 < size ? data[i + 1] : 0, flags);
  if (flags.control != 0) return false;
  if (flags.newline_b != 0 && text.find("\nbegin") != absl::string_view::npos) return false;
  return flags.non_ascii == 0 || common::IsValidUtf8(text);
}

}  // namespace offboard::agent
