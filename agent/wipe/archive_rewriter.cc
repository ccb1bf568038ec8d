#include "agent/wipe/archive_rewriter.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/scan/archive_source.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

constexpr size_t kReadChunkBytes = 1 << 20;
constexpr size_t kCopyChunkBytes = 64 << 10;

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteDeleter>;

// The source file through pread(2), so the caller's file offset never moves.
class PreadInput final : public ArchiveInput {
 public:
  PreadInput(int fd, uint64_t size, absl::string_view display_path)
      : fd_(fd), size_(size), display_path_(display_path), buffer_(kReadChunkBytes) {}

  absl::StatusOr<std::span<const uint8_t>> Next() override {
    if (position_ >= size_) return std::span<const uint8_t>();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), size_ - position_));
    ssize_t n;
    do {
      n = ::pread(fd_, buffer_.data(), want, static_cast<off_t>(position_));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      error_ = common::ErrnoToStatus(errno, absl::StrCat(display_path_, ": read"));
      return error_;
    }
    position_ += static_cast<uint64_t>(n);
    return std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(n));
  }
  bool failed() const override { return !error_.ok(); }
  const absl::Status& error() const { return error_; }
  bool seekable() const override { return true; }
  int64_t Seek(int64_t offset, int whence) override {
    const int64_t base = whence == SEEK_SET   ? 0
                         : whence == SEEK_CUR ? static_cast<int64_t>(position_)
                                              : static_cast<int64_t>(size_);
    if (base + offset < 0) return -1;
    position_ = static_cast<uint64_t>(base + offset);
    return base + offset;
  }
  int64_t Skip(int64_t request) override {
    const uint64_t skipped =
        std::min<uint64_t>(static_cast<uint64_t>(request), size_ - std::min(position_, size_));
    position_ += skipped;
    return static_cast<int64_t>(skipped);
  }

 private:
  const int fd_;
  const uint64_t size_;
  const absl::string_view display_path_;
  std::vector<uint8_t> buffer_;
  uint64_t position_ = 0;
  absl::Status error_;
};

// Where a writer's bytes go: the destination file, or memory up to a limit
// (a nested archive being rewritten).
struct Output {
  int fd = -1;
  std::vector<uint8_t> memory;
  uint64_t limit = 0;
  std::string where;  // for messages
  absl::Status error;

  absl::Status Append(const uint8_t* data, size_t length) {
    if (fd < 0) {
      if (memory.size() + length > limit) {
        return absl::ResourceExhaustedError(absl::StrCat(
            where, ": rewritten nested archive over the in-memory limit of ", limit, " bytes"));
      }
      memory.insert(memory.end(), data, data + length);
      return absl::OkStatus();
    }
    while (length > 0) {
      const ssize_t n = ::write(fd, data, length);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return common::ErrnoToStatus(errno, absl::StrCat(where, ": write"));
      data += n;
      length -= static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }
};

la_ssize_t WriteCallback(archive* a, void* client_data, const void* buffer, size_t length) {
  auto* out = static_cast<Output*>(client_data);
  out->error = out->Append(static_cast<const uint8_t*>(buffer), length);
  if (!out->error.ok()) {
    archive_set_error(a, EIO, "%s", std::string(out->error.message()).c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

// How to write an archive like the one a reader reads.
struct WriteFormat {
  int (*set_format)(archive*) = nullptr;
  bool zip = false;          // choose store or deflate per entry, as the source
  std::vector<int> filters;  // innermost first, as archive_write_add_filter wants
  std::vector<std::string> filter_names;
};

absl::StatusOr<WriteFormat> ChooseWriteFormat(archive* reader, const std::string& where) {
  WriteFormat format;
  const int code = archive_format(reader);
  switch (code & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_TAR:
      // pax-restricted writes plain ustar headers wherever they suffice, so
      // it copies ustar and v7 archives, and any pax entries among them.
      format.set_format = code == ARCHIVE_FORMAT_TAR_GNUTAR ? archive_write_set_format_gnutar
                          : code == ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE
                              ? archive_write_set_format_pax
                              : archive_write_set_format_pax_restricted;
      break;
    case ARCHIVE_FORMAT_ZIP:
      format.set_format = archive_write_set_format_zip;
      format.zip = true;
      break;
    case ARCHIVE_FORMAT_7ZIP:
      format.set_format = archive_write_set_format_7zip;
      break;
    case ARCHIVE_FORMAT_CPIO:
      if (code == ARCHIVE_FORMAT_CPIO_POSIX) format.set_format = archive_write_set_format_cpio_odc;
      if (code == ARCHIVE_FORMAT_CPIO_SVR4_NOCRC) {
        format.set_format = archive_write_set_format_cpio_newc;
      }
      break;
    default:
      break;
  }
  const char* name = archive_format_name(reader);
  if (format.set_format == nullptr) {
    // iso9660 and xar could be written, but libarchive stages their members
    // in temporary files; the others have no writer in libarchive at all.
    return absl::UnimplementedError(absl::StrCat(where, ": archive format \"",
                                                 name != nullptr ? name : "unknown",
                                                 "\" cannot be rewritten"));
  }
  // Filters libarchive writes in-process (it warns when it would run a program).
  static constexpr int kWritable[] = {
      ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_BZIP2, ARCHIVE_FILTER_COMPRESS, ARCHIVE_FILTER_LZMA,
      ARCHIVE_FILTER_XZ,   ARCHIVE_FILTER_LZIP,  ARCHIVE_FILTER_LZ4,      ARCHIVE_FILTER_ZSTD};
  for (int i = 0; i < archive_filter_count(reader); ++i) {
    const int filter = archive_filter_code(reader, i);
    if (filter == ARCHIVE_FILTER_NONE) continue;
    if (std::find(std::begin(kWritable), std::end(kWritable), filter) == std::end(kWritable)) {
      return absl::UnimplementedError(absl::StrCat(
          where, ": compression \"", archive_filter_name(reader, i), "\" cannot be rewritten"));
    }
    format.filters.push_back(filter);
    format.filter_names.emplace_back(archive_filter_name(reader, i));
  }
  return format;
}

// What to drop from one archive, by member name: the member, or members of it.
struct DropNode {
  bool whole = false;
  bool seen = false;   // an entry has this name
  bool found = false;  // dropped, or rewritten as an archive
  std::map<std::string, DropNode> members;
};

// One reader copied to one writer.
struct Copy {
  archive* reader;
  archive* writer;
  Output* out;
  const WriteFormat* format;
};

// One RewriteArchiveWithout call: the recursion over nested archives.
class Rewrite {
 public:
  Rewrite(absl::string_view display_path, uint64_t max_inner_bytes, const PreadInput& input,
          ArchiveRewriteResult& result)
      : display_path_(display_path),
        max_inner_bytes_(max_inner_bytes),
        input_(input),
        result_(result),
        buffer_(kCopyChunkBytes) {}

  // Writes the archive `reader` reads, whose first header returned `r` and
  // `entry`, to `out` without the members `drops` names.
  absl::Status CopyArchive(archive* reader, int r, archive_entry* entry, Output& out,
                           DropNode& drops, std::vector<std::string>& chain);

  // Reads the first header of `a` into `r` and `entry`: true for an archive,
  // false for plain content; UNIMPLEMENTED for a compressed single file.
  absl::StatusOr<bool> Start(archive* a, int* r, archive_entry** entry,
                             const std::vector<std::string>& chain) const;

  // "<path>, member a > b" (just the path for an empty chain).
  std::string Where(const std::vector<std::string>& chain) const {
    if (chain.empty()) return std::string(display_path_);
    return absl::StrCat(display_path_, ", member ", absl::StrJoin(chain, " > "));
  }

 private:
  absl::Status CopyEntry(const Copy& copy, archive_entry* entry, std::vector<std::string>& chain);
  // Writes the member again without what `node` names; sets `dropped` when
  // the whole member went instead (a compressed single file).
  absl::Status RewriteMember(const Copy& copy, archive_entry* entry, DropNode& node,
                             std::vector<std::string>& chain, bool* dropped);
  // The member rewritten without what `node` names, or nullopt when it is no
  // archive (so nothing in it can be found).
  absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteInMemory(
      std::span<const uint8_t> data, DropNode& node, std::vector<std::string>& chain);
  absl::StatusOr<std::vector<uint8_t>> ReadToMemory(archive* reader, archive_entry* entry,
                                                    const std::vector<std::string>& chain);
  absl::Status WriteHeader(const Copy& copy, archive_entry* entry,
                           const std::vector<std::string>& chain);
  absl::Status WriteData(const Copy& copy, std::span<const uint8_t> data, bool may_stop_short,
                         const std::vector<std::string>& chain, bool* stopped);
  absl::Status ReadError(archive* reader, const std::vector<std::string>& chain) const {
    if (input_.failed()) return input_.error();
    const char* message = archive_error_string(reader);
    return absl::DataLossError(
        absl::StrCat(Where(chain), ": ", message != nullptr ? message : "unreadable archive"));
  }
  absl::Status WriteError(const Copy& copy, const std::vector<std::string>& chain) const {
    if (!copy.out->error.ok()) return copy.out->error;
    const char* message = archive_error_string(copy.writer);
    return absl::InternalError(absl::StrCat(Where(chain), ": writing the new archive failed: ",
                                            message != nullptr ? message : "unknown error"));
  }
  absl::Status TooBig(const std::vector<std::string>& chain) const {
    return absl::ResourceExhaustedError(absl::StrCat(
        Where(chain), ": nested archive over the in-memory limit of ", max_inner_bytes_, " bytes"));
  }

  const absl::string_view display_path_;
  const uint64_t max_inner_bytes_;
  const PreadInput& input_;
  ArchiveRewriteResult& result_;
  std::vector<uint8_t> buffer_;
};

absl::Status Rewrite::CopyArchive(archive* reader, int r, archive_entry* entry, Output& out,
                                  DropNode& drops, std::vector<std::string>& chain) {
  OFFBOARD_ASSIGN_OR_RETURN(const WriteFormat format, ChooseWriteFormat(reader, Where(chain)));
  ArchiveWriter writer(archive_write_new());
  if (!writer) return absl::ResourceExhaustedError("archive_write_new failed");
  archive* w = writer.get();
  const Copy copy{reader, w, &out, &format};
  if (format.set_format(w) != ARCHIVE_OK) return WriteError(copy, chain);
  for (size_t i = 0; i < format.filters.size(); ++i) {
    // ARCHIVE_WARN means an external program would compress: not on this data.
    if (archive_write_add_filter(w, format.filters[i]) != ARCHIVE_OK) {
      return absl::UnimplementedError(absl::StrCat(Where(chain), ": compression \"",
                                                   format.filter_names[i],
                                                   "\" cannot be written in-process"));
    }
  }
  archive_write_set_bytes_in_last_block(w, 1);  // no padding after the format's own end
  if (archive_write_open2(w, &out, nullptr, WriteCallback, nullptr, nullptr) != ARCHIVE_OK) {
    return WriteError(copy, chain);
  }
  absl::flat_hash_set<std::string> dropped_names;
  for (uint64_t index = 0;; ++index, r = archive_read_next_header(reader, &entry)) {
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return ReadError(reader, chain);
    std::string name = MemberName(entry, index);
    const auto node = drops.members.find(name);
    const char* link = archive_entry_hardlink(entry);
    if (node != drops.members.end()) node->second.seen = true;
    chain.push_back(name);
    absl::Status status;
    bool kept = true;
    if ((node != drops.members.end() && node->second.whole) ||
        (link != nullptr && dropped_names.contains(link))) {
      // A hard link to a dropped member is the same file: it goes too.
      if (node != drops.members.end()) node->second.found = true;
      result_.removed.push_back(chain);
      dropped_names.insert(std::move(name));
      kept = false;
    } else if (node != drops.members.end()) {
      bool dropped = false;
      status = RewriteMember(copy, entry, node->second, chain, &dropped);
      kept = !dropped;
    } else {
      status = CopyEntry(copy, entry, chain);
    }
    chain.pop_back();
    OFFBOARD_RETURN_IF_ERROR(status);
    if (kept && chain.empty()) ++result_.members_kept;
  }
  if (archive_write_close(w) != ARCHIVE_OK) return WriteError(copy, chain);
  return absl::OkStatus();
}

absl::Status Rewrite::CopyEntry(const Copy& copy, archive_entry* entry,
                                std::vector<std::string>& chain) {
  if (archive_entry_is_encrypted(entry)) {
    return absl::DataLossError(
        absl::StrCat(Where(chain), ": encrypted member cannot be copied without its passphrase"));
  }
  OFFBOARD_RETURN_IF_ERROR(WriteHeader(copy, entry, chain));
  // Formats store a hard link's data once; the writer may take none here.
  const bool may_stop_short = archive_entry_hardlink(entry) != nullptr;
  int64_t copied = 0;
  for (bool stopped = false; !stopped;) {
    // archive_read_data fills the holes of sparse entries with zeros.
    const la_ssize_t n = archive_read_data(copy.reader, buffer_.data(), buffer_.size());
    if (n < 0) return ReadError(copy.reader, chain);
    if (n == 0) break;
    OFFBOARD_RETURN_IF_ERROR(
        WriteData(copy, std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(n)),
                  may_stop_short, chain, &stopped));
    copied += n;
  }
  if (!may_stop_short && archive_entry_size_is_set(entry) && copied != archive_entry_size(entry)) {
    return absl::DataLossError(absl::StrCat(Where(chain), ": read ", copied, " bytes, header says ",
                                            archive_entry_size(entry)));
  }
  if (archive_write_finish_entry(copy.writer) != ARCHIVE_OK) return WriteError(copy, chain);
  return absl::OkStatus();
}

absl::Status Rewrite::RewriteMember(const Copy& copy, archive_entry* entry, DropNode& node,
                                    std::vector<std::string>& chain, bool* dropped) {
  const mode_t type = archive_entry_filetype(entry);
  if ((type != AE_IFREG && type != 0) || archive_entry_hardlink(entry) != nullptr) {
    return CopyEntry(copy, entry, chain);  // no content of its own: nothing found in it
  }
  if (archive_entry_is_encrypted(entry)) {
    return absl::DataLossError(
        absl::StrCat(Where(chain), ": encrypted member cannot be opened without its passphrase"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(const std::vector<uint8_t> data,
                            ReadToMemory(copy.reader, entry, chain));
  absl::StatusOr<std::optional<std::vector<uint8_t>>> rewritten_or =
      RewriteInMemory(data, node, chain);
  if (!rewritten_or.ok() && IsCompressedSingleFile(rewritten_or.status())) {
    // A compressed single file holds one stream, and that is what is to go:
    // the member goes whole.
    node.found = true;
    node.whole = true;
    result_.removed.push_back(chain);
    *dropped = true;
    return absl::OkStatus();
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> rewritten,
                            std::move(rewritten_or));
  if (rewritten.has_value()) node.found = true;
  const std::vector<uint8_t>& content = rewritten.has_value() ? *rewritten : data;
  archive_entry_set_size(entry, static_cast<la_int64_t>(content.size()));
  archive_entry_sparse_clear(entry);
  OFFBOARD_RETURN_IF_ERROR(WriteHeader(copy, entry, chain));
  bool stopped = false;
  OFFBOARD_RETURN_IF_ERROR(WriteData(copy, content, /*may_stop_short=*/false, chain, &stopped));
  if (archive_write_finish_entry(copy.writer) != ARCHIVE_OK) return WriteError(copy, chain);
  return absl::OkStatus();
}

absl::StatusOr<bool> Rewrite::Start(archive* a, int* r, archive_entry** entry,
                                    const std::vector<std::string>& chain) const {
  *r = archive_read_next_header(a, entry);
  if (*r != ARCHIVE_OK && *r != ARCHIVE_WARN && *r != ARCHIVE_EOF) return ReadError(a, chain);
  if (!ReadsRawContent(a)) return true;
  if (archive_filter_count(a) <= 1) return false;  // plain content
  absl::Status status = absl::UnimplementedError(
      absl::StrCat(Where(chain), ": a compressed single file (", archive_filter_name(a, 0),
                   "), not an archive; it can only be removed whole"));
  status.SetPayload(kCompressedSingleFilePayload, absl::Cord("1"));
  return status;
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> Rewrite::RewriteInMemory(
    std::span<const uint8_t> data, DropNode& node, std::vector<std::string>& chain) {
  absl::StatusOr<ArchiveReader> reader = OpenArchiveMemory(data);
  if (!reader.ok()) {
    return absl::DataLossError(absl::StrCat(Where(chain), ": ", reader.status().message()));
  }
  int r;
  archive_entry* entry = nullptr;
  OFFBOARD_ASSIGN_OR_RETURN(const bool is_archive, Start(reader->get(), &r, &entry, chain));
  if (!is_archive) return std::nullopt;
  Output out{.fd = -1, .memory = {}, .limit = max_inner_bytes_, .where = Where(chain), .error = {}};
  OFFBOARD_RETURN_IF_ERROR(CopyArchive(reader->get(), r, entry, out, node, chain));
  return std::move(out.memory);
}

absl::StatusOr<std::vector<uint8_t>> Rewrite::ReadToMemory(archive* reader, archive_entry* entry,
                                                           const std::vector<std::string>& chain) {
  std::vector<uint8_t> data;
  if (archive_entry_size_is_set(entry)) {
    const auto size = static_cast<uint64_t>(archive_entry_size(entry));
    if (size > max_inner_bytes_) return TooBig(chain);
    data.reserve(static_cast<size_t>(size));
  }
  for (;;) {
    const la_ssize_t n = archive_read_data(reader, buffer_.data(), buffer_.size());
    if (n < 0) return ReadError(reader, chain);
    if (n == 0) return data;
    if (data.size() + static_cast<uint64_t>(n) > max_inner_bytes_) return TooBig(chain);
    data.insert(data.end(), buffer_.data(), buffer_.data() + n);
  }
}

absl::Status Rewrite::WriteHeader(const Copy& copy, archive_entry* entry,
                                  const std::vector<std::string>& chain) {
  if (copy.format->zip) {
    // The zip reader names each entry's method: "ZIP 1.0 (uncompressed)".
    const char* name = archive_format_name(copy.reader);
    const bool stored = name != nullptr && absl::StrContains(name, "(uncompressed)");
    (stored ? archive_write_zip_set_compression_store
            : archive_write_zip_set_compression_deflate)(copy.writer);
  }
  const int r = archive_write_header(copy.writer, entry);
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN) return absl::OkStatus();
  if (!copy.out->error.ok() || r == ARCHIVE_FATAL) return WriteError(copy, chain);
  const char* message = archive_error_string(copy.writer);
  return absl::UnimplementedError(
      absl::StrCat(Where(chain), ": the entry cannot be written in ",
                   "the archive's format: ", message != nullptr ? message : "refused"));
}

absl::Status Rewrite::WriteData(const Copy& copy, std::span<const uint8_t> data,
                                bool may_stop_short, const std::vector<std::string>& chain,
                                bool* stopped) {
  while (!data.empty()) {
    const la_ssize_t n = archive_write_data(copy.writer, data.data(), data.size());
    if (n < 0) return WriteError(copy, chain);
    if (n == 0) {
      if (may_stop_short) {
        *stopped = true;
        return absl::OkStatus();
      }
      return absl::InternalError(
          absl::StrCat(Where(chain), ": the archive writer took fewer bytes than the member has"));
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<DropNode> BuildDropTree(const std::vector<std::vector<std::string>>& drop,
                                       absl::string_view display_path) {
  DropNode root;
  for (const std::vector<std::string>& chain : drop) {
    if (chain.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(display_path, ": empty member chain to drop"));
    }
    DropNode* node = &root;
    for (const std::string& name : chain) {
      if (name.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(display_path, ": empty member name in ", absl::StrJoin(chain, " > ")));
      }
      node = &node->members[name];
    }
    node->whole = true;
  }
  return root;
}

// NOT_FOUND for the first chain of `drop` that named nothing, else OK.
absl::Status CheckAllFound(const DropNode& root, const std::vector<std::vector<std::string>>& drop,
                           const Rewrite& rewrite) {
  for (const std::vector<std::string>& chain : drop) {
    const DropNode* node = &root;
    for (size_t depth = 0; depth < chain.size(); ++depth) {
      node = &node->members.at(chain[depth]);
      if (!node->found) {
        const std::vector<std::string> missing(chain.begin(), chain.begin() + depth + 1);
        return absl::NotFoundError(absl::StrCat(
            rewrite.Where(chain), ": not found",
            depth + 1 == chain.size() ? ""
            : node->seen ? absl::StrCat(" (", absl::StrJoin(missing, " > "), " is not an archive)")
                         : absl::StrCat(" (no member ", absl::StrJoin(missing, " > "), ")")));
      }
      if (node->whole) break;  // dropped with everything in it
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsCompressedSingleFile(const absl::Status& status) {
  return absl::IsUnimplemented(status) && status.GetPayload(kCompressedSingleFilePayload).has_value();
}

absl::StatusOr<ArchiveRewriteResult> RewriteArchiveWithout(
    int source_fd, int dest_fd, const std::vector<std::vector<std::string>>& drop,
    absl::string_view display_path, uint64_t max_inner_bytes) {
  OFFBOARD_ASSIGN_OR_RETURN(DropNode drops, BuildDropTree(drop, display_path));
  struct stat st;
  if (::fstat(source_fd, &st) != 0) return common::ErrnoToStatus(errno, display_path);
  // Member names as the scanner reports them (Unicode names as UTF-8).
  const ScopedUtf8Locale utf8_names;
  PreadInput input(source_fd, static_cast<uint64_t>(st.st_size), display_path);
  absl::StatusOr<ArchiveReader> reader = OpenArchiveReader(input);
  if (input.failed()) return input.error();
  if (!reader.ok()) {
    return absl::DataLossError(absl::StrCat(display_path, ": ", reader.status().message()));
  }
  archive* a = reader->get();
  ArchiveRewriteResult result;
  Rewrite rewrite(display_path, max_inner_bytes, input, result);
  int r;
  archive_entry* entry = nullptr;
  std::vector<std::string> chain;
  OFFBOARD_ASSIGN_OR_RETURN(const bool is_archive, rewrite.Start(a, &r, &entry, chain));
  if (!is_archive) return absl::NotFoundError(absl::StrCat(display_path, ": not an archive"));
  if (const char* name = archive_format_name(a); name != nullptr) result.format = name;
  for (int i = 0; i < archive_filter_count(a); ++i) {
    if (archive_filter_code(a, i) != ARCHIVE_FILTER_NONE) {
      result.filters.emplace_back(archive_filter_name(a, i));
    }
  }
  Output out{
      .fd = dest_fd, .memory = {}, .limit = 0, .where = std::string(display_path), .error = {}};
  OFFBOARD_RETURN_IF_ERROR(rewrite.CopyArchive(a, r, entry, out, drops, chain));
  OFFBOARD_RETURN_IF_ERROR(CheckAllFound(drops, drop, rewrite));
  return result;
}

}  // namespace offboard::agent
