#include "agent/scan/stream_examiner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/scan/archive_source.h"
#include "agent/scan/disk_image.h"
#include "agent/scan/stream_inputs.h"

namespace offboard::agent {
namespace {

constexpr size_t kFileReadBytes = 1 << 20;
constexpr size_t kMemberChunkBytes = 256 << 10;
// A 7z archive inside another archive needs random access, so it is buffered
// in memory, up to this size in all (a 7z in a 7z counts twice).
constexpr uint64_t kSevenZipMemoryCap = 64 << 20;
// What is read to finish an archive file's hash even when it was not asked for.
constexpr uint64_t kCheapTailBytes = 1 << 20;
// libarchive may fail the same header again and again; give up on the archive
// after this many failures in a row.
constexpr int kMaxHeaderFailures = 16;

std::string ArchiveMessage(archive* a) {
  const char* message = archive_error_string(a);
  return message != nullptr ? message : "unreadable archive";
}

bool HeaderRead(int r) { return r == ARCHIVE_OK || r == ARCHIVE_WARN || r == ARCHIVE_EOF; }

absl::string_view Basename(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// A reader after its first archive_read_next_header, which bids the format.
struct OpenedStream {
  absl::StatusOr<ArchiveReader> reader = absl::UnknownError("not opened");
  int first_header = ARCHIVE_FATAL;
  archive_entry* entry = nullptr;

  bool ok() const { return reader.ok() && HeaderRead(first_header); }
  archive* get() const { return reader->get(); }
  std::string error() const {
    return reader.ok() ? ArchiveMessage(reader->get()) : std::string(reader.status().message());
  }
};

OpenedStream FirstHeader(absl::StatusOr<ArchiveReader> reader) {
  OpenedStream opened;
  opened.reader = std::move(reader);
  if (opened.reader.ok()) {
    opened.first_header = archive_read_next_header(opened.reader->get(), &opened.entry);
  }
  return opened;
}

// Formats whose libarchive reader looks for them past the stream's start
// (a zip's central directory at its end, self-extracting 7z, rar, cab, lha).
bool FoundAfterOtherData(int format) {
  switch (format & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_ZIP:
    case ARCHIVE_FORMAT_7ZIP:
    case ARCHIVE_FORMAT_RAR:
    case ARCHIVE_FORMAT_RAR_V5:
    case ARCHIVE_FORMAT_CAB:
    case ARCHIVE_FORMAT_LHA:
      return true;
    default:
      return false;
  }
}

// The name of the format `a` reads, when that format ends with a marker
// (tar's zero blocks, cpio's trailer) after which its stream may go on, and
// `a` reads its input with no filter of its own: what the input gives after
// the end is then what it holds past the archive. Null otherwise.
const char* EndMarkedFormat(archive* a) {
  if (archive_filter_count(a) != 1) return nullptr;
  switch (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_TAR:
      return "tar";
    case ARCHIVE_FORMAT_CPIO:
      return "cpio";
    default:
      return nullptr;
  }
}

std::string DataAfterEndError(absl::string_view format, uint64_t at, bool decompressed) {
  return absl::StrCat("data after the end of the ", format, " archive (from byte ", at,
                      decompressed ? " of the decompressed data" : "",
                      ") not examined: another archive or other data follows it");
}

OpenedStream OpenStream(ArchiveInput& input, bool raw_only) {
  return FirstHeader(OpenArchiveReader(input, raw_only));
}

// One ExamineFile call: the recursion over nested streams.
class Examination {
 public:
  Examination(const ExaminationLimits& limits, const FingerprintIndex* fingerprints,
              const std::string& path, const std::function<void(const StreamResult&)>& on_stream,
              std::vector<ScanError>& errors, ScanStats& stats,
              std::vector<std::vector<uint8_t>>& member_buffers)
      : fingerprints_(fingerprints),
        on_stream_(on_stream),
        member_buffers_(member_buffers),
        file_(limits, path, errors, stats) {}

  void Run(int fd, uint64_t size, bool hash_file, std::vector<uint8_t>& read_buffer);

 private:
  enum class MemberOutcome { kDone, kParentDead };

  void ExamineEntries(archive* a, ArchiveInput* input, std::vector<std::string>& chain, int r,
                      archive_entry* entry);
  // `content_may_be_archive`: `a` reads one filter only (OpenOuterFilterReader),
  // so no format has looked at the content yet. `gzip_layers`: layers of
  // compression under `a` that `input` took off (GunzipInput).
  void ExamineCompressedFile(archive* a, const ArchiveInput& input, std::vector<std::string>& chain,
                             absl::string_view parent_name, int r, bool content_may_be_archive,
                             int gzip_layers = 0);
  MemberOutcome ExamineMember(archive* parent, const ArchiveInput* upstream,
                              std::vector<std::string>& chain, bool may_be_archive,
                              uint64_t size_hint);
  // Opens `input` as an archive and examines what is inside, if it is one
  // and not `too_deep`; returns whether it did. `gunzipped`: `input` is a
  // GunzipInput, whose content is examined as a member when it is no archive.
  bool OpenAndExamine(ArchiveInput& input, StreamDigest& digest, std::vector<std::string>& chain,
                      bool too_deep, std::string name, bool gunzipped = false);
  // A gzip stream: decompressed by a GunzipInput, which checks its trailers,
  // and what it holds examined as libarchive's gzip reader would have given
  // it. Returns whether what it holds was examined.
  bool ExamineGzip(ArchiveInput& input, StreamDigest& digest, std::vector<std::string>& chain,
                   const std::string& name);
  // The content of `gzip` as its one member. `opened` is the reader that
  // found it no archive; it is used when it reads the content as it is.
  bool ExamineGzipContent(GunzipInput& gzip, OpenedStream opened, std::vector<std::string>& chain,
                          const std::string& name, bool content_may_be_archive);
  // Reads `input` again from its start with a reader from `open`, into
  // `opened`; false, reported unless the input failed or the file stopped,
  // when it cannot.
  bool ReadAgain(ArchiveInput& input, absl::StatusOr<ArchiveReader> (*open)(ArchiveInput&),
                 const std::vector<std::string>& chain, OpenedStream& opened);
  // Opens the member as an archive if it is one; returns whether it did.
  bool ExamineNested(MemberInput& input, StreamDigest& digest, std::vector<std::string>& chain,
                     uint64_t size_hint);
  bool ExamineBufferedSevenZip(MemberInput& input, std::vector<std::string>& chain,
                               uint64_t size_hint);
  // Content, or an archive libarchive found past other data, may be a disk
  // or filesystem image, whose files are not examined: an error on it (the
  // stream is hashed and read all the same). Content (`content`: no reader
  // took the stream) that read as an empty tar may hold another archive
  // after its zero blocks: an error too.
  void ReportDiskImage(ArchiveInput& input, const std::vector<std::string>& chain,
                       bool content = true);
  // Data after the end of an archive in `input` (see
  // ArchiveInput::ExpectZerosAfterEnd), once the input was read to its end:
  // an error on the stream. `decompressed`: the stream is a gzip's content.
  void ReportDataAfterEnd(const ArchiveInput& input, const std::vector<std::string>& chain,
                          bool decompressed = false);
  void DepthError(const std::vector<std::string>& chain) {
    file_.AddError(chain, absl::StrCat("nested archive deeper than ", file_.limits.max_depth,
                                       " levels not examined (depth limit)"));
  }
  std::span<uint8_t> MemberBuffer(size_t depth);

  const FingerprintIndex* fingerprints_;
  const std::function<void(const StreamResult&)>& on_stream_;
  std::vector<std::vector<uint8_t>>& member_buffers_;
  FileState file_;
  uint64_t buffered_seven_zip_bytes_ = 0;
  size_t image_errors_ = 0;  // errors ReportDiskImage added
  // Members of `chain` that are a compressed layer read alone: 0 or 1.
  size_t peeled_levels_ = 0;
};

void Examination::Run(int fd, uint64_t size, bool hash_file, std::vector<uint8_t>& read_buffer) {
  StreamDigest digest(fingerprints_);
  FileInput input(fd, size, file_, digest, /*read_through_skips=*/hash_file, read_buffer);
  StreamResult result;
  std::vector<std::string> chain;
  bool read_whole = hash_file || digest.matching();
  result.is_archive =
      OpenAndExamine(input, digest, chain, /*too_deep=*/false, std::string(Basename(file_.path)));
  if (result.is_archive) read_whole = hash_file;
  ReportDataAfterEnd(input, chain);
  // An archive format may stop before the end of the file (tar's padding);
  // reading a short tail still gives the file's hash for free.
  if (!input.failed() &&
      (read_whole || (result.is_archive && input.unhashed_tail() <= kCheapTailBytes))) {
    input.HashToEnd();
  }
  digest.Finish(input.hashed_to_end(), result);
  if (!result.hashed) result.size = size;
  if (file_.stopped()) file_.AddError(file_.stop_member, file_.stop_reason);
  on_stream_(result);
}

void Examination::ExamineEntries(archive* a, ArchiveInput* input, std::vector<std::string>& chain,
                                 int r, archive_entry* entry) {
  ++file_.stats.archives_opened;
  int failures = 0;
  for (uint64_t index = 0;; ++index, r = archive_read_next_header(a, &entry)) {
    if (file_.stopped()) return;
    if (r == ARCHIVE_EOF) {
      if (input != nullptr && !input->failed()) {
        if (const char* format = EndMarkedFormat(a)) input->ExpectZerosAfterEnd(a, format);
      }
      return;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      // The archive's own input failed: its owner reports that.
      if (input != nullptr && input->failed()) return;
      file_.AddError(chain, ArchiveMessage(a));
      if (r == ARCHIVE_FATAL || ++failures >= kMaxHeaderFailures) return;
      continue;
    }
    failures = 0;
    // Directories, symlinks and devices have no content; ar members carry no
    // type at all (0) and are files.
    if (const mode_t type = archive_entry_filetype(entry); type != AE_IFREG && type != 0) continue;
    // A hard link carries its data under one of its names only (the first in
    // tar, the last in cpio); the others are empty entries, not empty files.
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) == 0 &&
        (archive_entry_hardlink(entry) != nullptr || archive_entry_nlink(entry) > 1)) {
      continue;
    }
    chain.push_back(MemberName(entry, index));
    MemberOutcome outcome = MemberOutcome::kDone;
    if (archive_entry_is_encrypted(entry)) {
      file_.AddError(chain, "encrypted member not examined (no passphrase)");
    } else {
      const uint64_t size_hint =
          archive_entry_size_is_set(entry) ? static_cast<uint64_t>(archive_entry_size(entry)) : 0;
      outcome = ExamineMember(a, input, chain, /*may_be_archive=*/true, size_hint);
    }
    chain.pop_back();
    if (outcome == MemberOutcome::kParentDead) return;
  }
}

void Examination::ExamineCompressedFile(archive* a, const ArchiveInput& input,
                                        std::vector<std::string>& chain,
                                        absl::string_view parent_name, int r,
                                        bool content_may_be_archive, int gzip_layers) {
  ++file_.stats.archives_opened;
  std::string name = DecompressedName(parent_name, archive_filter_count(a) - 1 + gzip_layers);
  chain.push_back(std::move(name));
  if (r == ARCHIVE_EOF) {  // compressed empty content
    ++file_.stats.members_examined;
    StreamResult result;
    result.member = chain;
    StreamDigest(fingerprints_).Finish(/*complete=*/true, result);
    on_stream_(result);
  } else {
    // Unless only the filter was read, libarchive found no format inside,
    // so the content is no archive.
    ExamineMember(a, &input, chain, content_may_be_archive, 0);
  }
  chain.pop_back();
}

Examination::MemberOutcome Examination::ExamineMember(archive* parent, const ArchiveInput* upstream,
                                                      std::vector<std::string>& chain,
                                                      bool may_be_archive, uint64_t size_hint) {
  ++file_.stats.members_examined;
  StreamDigest digest(fingerprints_);
  MemberInput input(parent, file_, digest, chain, MemberBuffer(chain.size()), size_hint);
  StreamResult result;
  result.member = chain;
  if (may_be_archive) {
    result.is_archive = ExamineNested(input, digest, chain, size_hint);
  } else {
    // Content a filter gave, which libarchive found to be no archive.
    input.StartCapture();
    ReportDiskImage(input, chain);
  }
  input.StopCapture();
  if (!input.failed()) input.Drain();  // the rest, for the member's own hash
  ReportDataAfterEnd(input, chain);
  if (input.failed() && input.own_error() && !file_.stopped() &&
      !(upstream != nullptr && upstream->failed())) {
    file_.AddError(chain, std::string(input.error().message()));
  }
  digest.Finish(input.at_end() && !input.failed(), result);
  on_stream_(result);
  return input.parent_fatal() ? MemberOutcome::kParentDead : MemberOutcome::kDone;
}

bool Examination::ExamineNested(MemberInput& input, StreamDigest& digest,
                                std::vector<std::string>& chain, uint64_t size_hint) {
  // A layer read alone (see OpenAndExamine) does not count: libarchive
  // would have read it with what it holds.
  const bool too_deep = chain.size() - peeled_levels_ > file_.limits.max_depth;
  input.StartCapture();
  absl::StatusOr<std::span<const uint8_t>> head = input.Peek();
  if (!head.ok() || head->empty()) return false;
  if (HasSevenZipSignature(*head)) {
    if (too_deep) {
      DepthError(chain);
      return false;
    }
    digest.StopMatching();
    return ExamineBufferedSevenZip(input, chain, size_hint);
  }
  return OpenAndExamine(input, digest, chain, too_deep, chain.back());
}

bool Examination::OpenAndExamine(ArchiveInput& input, StreamDigest& digest,
                                 std::vector<std::string>& chain, bool too_deep, std::string name,
                                 bool gunzipped) {
  // gzip is decompressed here, not by libarchive, to check its trailers (see
  // GunzipInput for the gzip left to libarchive).
  if (!too_deep && !gunzipped) {
    const StreamHead head = input.Head(4);
    if (input.failed() || file_.stopped()) return false;
    if (GunzipInput::Starts(head.bytes)) return ExamineGzip(input, digest, chain, name);
  }
  GunzipInput* const gzip = gunzipped ? static_cast<GunzipInput*>(&input) : nullptr;
  OpenedStream opened = OpenStream(input, /*raw_only=*/false);
  // A failed input or a stopped file is reported by whoever owns them.
  if (input.failed() || file_.stopped()) return false;
  // Bytes that only start like binary cpio, compress or .lzma: content.
  // Looked at only when one of those was taken, or nothing could be opened.
  if (!opened.ok() || ReadsWeakSignatureFormat(opened.get())) {
    const StreamHead head = input.Head(kWeakSignatureHeadBytes);
    // Reading the head may have met the input's own error or a file stop.
    if (input.failed() || file_.stopped()) return false;
    if (MisreadWeakSignature(opened.reader.ok() ? opened.get() : nullptr, head)) {
      return gzip != nullptr && ExamineGzipContent(*gzip, OpenedStream(), chain, name,
                                                   /*content_may_be_archive=*/false);
    }
    // What a gzip holds failed to open, behind a filter or a real-looking
    // compress, .lzma or binary cpio header (not a damaged tar, say, which is
    // an error on the gzip): the content is the gzip's member, hashed, and
    // the error named on it, as when libarchive read the gzip alone.
    if (gzip != nullptr && !opened.ok() && peeled_levels_ == 0 && !gzip->data_error() &&
        (!opened.reader.ok() || ReadsWeakSignatureFormat(opened.get()))) {
      ++peeled_levels_;
      const bool examined = ExamineGzipContent(*gzip, OpenedStream(), chain, name,
                                               /*content_may_be_archive=*/true);
      --peeled_levels_;
      return examined;
    }
  }
  // The gzip's own data is damaged before anything could be opened: its
  // error, once (reading it again would only meet it again).
  if (gzip != nullptr && !opened.ok() && gzip->data_error()) {
    // The reader failed before it met the gzip's error: its own stands too.
    if (!gzip->error_returned()) file_.AddError(chain, opened.error());
    file_.AddError(chain, std::string(gzip->TakeError().message()));
    return false;
  }
  // Random bytes compressed may look like compress, .lzma or binary cpio to
  // the reader that also decompressed them; a failed open may be such a
  // layer under a good one too. The outer filter is then read alone, and what
  // it gives examined as a member, judged on its own first bytes. Within such
  // a member the first reader is kept, which bounds the chain of members.
  const bool weak_inside = opened.reader.ok() && StacksWeakSignature(opened.get());
  bool outer_filter_only = false;
  if (!too_deep && peeled_levels_ == 0 && (weak_inside || !opened.reader.ok())) {
    const int filter =
        weak_inside ? archive_filter_code(opened.get(), archive_filter_count(opened.get()) - 2)
                    : kAnyStrongFilter;
    // A member read past what its capture holds cannot be read again (lz4
    // and bzip2 take in blocks of up to 4 MiB before a first header): the
    // first reader then goes on.
    if (input.Rewind()) {
      OpenedStream outer = FirstHeader(OpenOuterFilterReader(input, filter));
      if (input.failed() || file_.stopped()) return false;
      if (outer.ok() && archive_filter_count(outer.get()) >= 2) {
        opened = std::move(outer);
        outer_filter_only = true;
      } else if (weak_inside) {
        // The first reader's input was read again: it cannot go on.
        file_.AddError(chain, outer.ok() ? "compressed content not examined: its outer filter "
                                           "could not be read alone"
                                         : outer.error());
        return false;
      }
    }
  }
  if (!opened.ok()) {
    // Recognized (compressed, or an archive) but unreadable from the start,
    // e.g. a gzip cut short before libarchive could decompress its first
    // block: reported on the stream itself, since no member could be read.
    // The bytes are still hashed and matched as they are.
    if (too_deep) {
      DepthError(chain);
    } else {
      file_.AddError(chain, opened.error());
    }
    return false;
  }
  const StreamKind kind = ClassifyStream(opened.get(), opened.first_header);
  if (kind == StreamKind::kPlain) {
    // A gzip's content is looked at as its member.
    if (gzip == nullptr) ReportDiskImage(input, chain);
    return gzip != nullptr && ExamineGzipContent(*gzip, std::move(opened), chain, name,
                                                 /*content_may_be_archive=*/false);
  }
  if (too_deep) {
    DepthError(chain);
    return false;
  }
  // An image may hold what an archive reader finds too (a zip's end in its
  // last blocks), and the reader reads only that. Only formats libarchive
  // finds after other data can be such a find: tar, cpio or ar start at the
  // stream's start, and what follows their first header is a member's, not
  // an image's (iso9660 is a filesystem libarchive reads).
  if (kind == StreamKind::kArchive && FoundAfterOtherData(archive_format(opened.get()))) {
    ReportDiskImage(input, chain, /*content=*/false);
  }
  if (kind == StreamKind::kCompressedFile && !ReadsRawContent(opened.get())) {
    // Decompressed content that merely looked like an (empty) archive: read
    // it again from the start, as content.
    const auto raw = [](ArchiveInput& again) {
      return OpenArchiveReader(again, /*raw_only=*/true);
    };
    if (!ReadAgain(input, raw, chain, opened)) return false;
  }
  input.StopRewinding();
  digest.StopMatching();
  if (kind == StreamKind::kCompressedFile) {
    peeled_levels_ += outer_filter_only ? 1 : 0;
    ExamineCompressedFile(opened.get(), input, chain, name, opened.first_header, outer_filter_only,
                          gzip != nullptr ? 1 : 0);
    peeled_levels_ -= outer_filter_only ? 1 : 0;
  } else {
    ExamineEntries(opened.get(), &input, chain, opened.first_header, opened.entry);
  }
  return true;
}

bool Examination::ExamineGzip(ArchiveInput& input, StreamDigest& digest,
                              std::vector<std::string>& chain, const std::string& name) {
  digest.StopMatching();  // compressed bytes are no text
  GunzipInput gzip(input, file_, chain);
  const size_t errors_before = file_.errors.size();
  const size_t image_errors_before = image_errors_;
  const bool examined =
      OpenAndExamine(gzip, digest, chain, /*too_deep=*/false, name, /*gunzipped=*/true);
  // What the reader left (tar's end blocks) is decompressed too, so that
  // every trailer is checked: a damaged member is an error even when nothing
  // else noticed, and whatever else was reported below. An image found
  // inside stopped no reader, nor did an error on a member of a tar or cpio
  // read to its end.
  const bool reader_failed = !gzip.archive_ended() && file_.errors.size() - errors_before >
                                                          image_errors_ - image_errors_before;
  for (std::string& problem : gzip.Finish(reader_failed)) {
    file_.AddError(chain, std::move(problem));
  }
  ReportDataAfterEnd(gzip, chain, /*decompressed=*/true);
  return examined;
}

bool Examination::ExamineGzipContent(GunzipInput& gzip, OpenedStream opened,
                                     std::vector<std::string>& chain, const std::string& name,
                                     bool content_may_be_archive) {
  if (!opened.ok() || !ReadsRawContent(opened.get()) || archive_filter_count(opened.get()) > 1) {
    // Another reader bid on the content (an empty tar, bytes that only look
    // like compress or binary cpio, or a damaged one): read it again as it is.
    if (!ReadAgain(gzip, OpenContentReader, chain, opened)) return false;
  }
  gzip.StopRewinding();
  ExamineCompressedFile(opened.get(), gzip, chain, name, opened.first_header,
                        content_may_be_archive, /*gzip_layers=*/1);
  return true;
}

bool Examination::ReadAgain(ArchiveInput& input,
                            absl::StatusOr<ArchiveReader> (*open)(ArchiveInput&),
                            const std::vector<std::string>& chain, OpenedStream& opened) {
  opened = OpenedStream();
  const bool rewound = input.Rewind();
  if (rewound) opened = FirstHeader(open(input));
  if (input.failed() || file_.stopped()) return false;
  if (!rewound || !opened.ok()) {
    file_.AddError(chain, rewound ? opened.error()
                                  : "compressed content not examined: could not be read again");
    return false;
  }
  return true;
}

bool Examination::ExamineBufferedSevenZip(MemberInput& input, std::vector<std::string>& chain,
                                          uint64_t size_hint) {
  const uint64_t room = kSevenZipMemoryCap - buffered_seven_zip_bytes_;
  std::vector<uint8_t> data;
  data.reserve(static_cast<size_t>(std::min(size_hint, room)));
  for (;;) {
    absl::StatusOr<std::span<const uint8_t>> chunk = input.Next();
    if (!chunk.ok()) return false;  // reported by the caller
    if (chunk->empty()) break;
    if (data.size() + chunk->size() > room) {
      file_.AddError(
          chain,
          absl::StrCat("7z archive inside an archive over the in-memory limit of ",
                       kSevenZipMemoryCap >> 20, " MiB not examined (7z needs random access)"));
      return false;
    }
    data.insert(data.end(), chunk->begin(), chunk->end());
  }
  OpenedStream opened;
  opened.reader = OpenArchiveMemory(data);
  if (opened.reader.ok()) {
    opened.first_header = archive_read_next_header(opened.reader->get(), &opened.entry);
  }
  if (!opened.ok()) {
    file_.AddError(chain, opened.error());
    return false;
  }
  buffered_seven_zip_bytes_ += data.size();
  ExamineEntries(opened.get(), /*input=*/nullptr, chain, opened.first_header, opened.entry);
  buffered_seven_zip_bytes_ -= data.size();
  return true;
}

void Examination::ReportDiskImage(ArchiveInput& input, const std::vector<std::string>& chain,
                                  bool content) {
  const StreamHead head = input.Head(kDiskImageHeadBytes);
  if (input.failed() || file_.stopped()) return;  // reported by their owners
  // A size the head already disproves is a header's lie: not used.
  std::optional<uint64_t> size =
      head.whole ? std::optional<uint64_t>(head.bytes.size()) : input.KnownSize();
  if (size && *size < head.bytes.size()) size.reset();
  if (const std::string kind = DiskImageKind(head.bytes, size); !kind.empty()) {
    file_.AddError(chain, DiskImageError(kind));
    ++image_errors_;
  } else if (const std::optional<uint64_t> at =
                 content ? ArchiveAfterZeroBlocks(head.bytes) : std::nullopt) {
    file_.AddError(chain, DataAfterEndError("tar", *at, /*decompressed=*/false));
    ++image_errors_;
  }
}

void Examination::ReportDataAfterEnd(const ArchiveInput& input,
                                     const std::vector<std::string>& chain, bool decompressed) {
  // Reported even when the file stopped later (a limit met while the rest
  // was checked): the data was seen.
  const std::optional<uint64_t> at = input.data_after_end();
  if (!at) return;
  file_.AddError(chain, DataAfterEndError(input.ended_format(), *at, decompressed));
}

std::span<uint8_t> Examination::MemberBuffer(size_t depth) {
  if (member_buffers_.size() <= depth) member_buffers_.resize(depth + 1);
  std::vector<uint8_t>& buffer = member_buffers_[depth];
  if (buffer.empty()) buffer.resize(kMemberChunkBytes);
  return buffer;
}

}  // namespace

StreamExaminer::StreamExaminer(ExaminationLimits limits, const FingerprintIndex* fingerprints)
    : limits_(limits), fingerprints_(fingerprints) {}

void StreamExaminer::ExamineFile(int fd, const std::string& path, uint64_t size, bool hash_file,
                                 const std::function<void(const StreamResult&)>& on_stream,
                                 std::vector<ScanError>& errors, ScanStats& stats) {
  // libarchive converts Unicode member names (7z, zip) to the thread's locale.
  const ScopedUtf8Locale utf8_names;
  if (read_buffer_.empty()) read_buffer_.resize(kFileReadBytes);
  Examination(limits_, fingerprints_, path, on_stream, errors, stats, member_buffers_)
      .Run(fd, size, hash_file, read_buffer_);
}

}  // namespace offboard::agent
