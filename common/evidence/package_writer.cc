#include "common/evidence/package_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/filesystem/operations.hpp>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// A fresh file beside `target`, named "<target>.partial-XXXXXX".
absl::StatusOr<std::pair<UniqueFd, std::string>> TempBeside(const boost::filesystem::path& target) {
  std::string name = target.string() + ".partial-XXXXXX";
  const int fd = ::mkstemp(name.data());
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("create a temporary file beside ", target.string()));
  return std::make_pair(UniqueFd(fd), name);
}

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, absl::StrCat("write ", what));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

class TarWriter {
 public:
  TarWriter(archive* a, int64_t mtime, std::string out) : a_(a), mtime_(mtime), out_(std::move(out)) {}

  absl::Status Header(const std::string& name, uint64_t size) {
    std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(entry.get(), mtime_, 0);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    if (archive_write_header(a_, entry.get()) != ARCHIVE_OK) return Error(name);
    return absl::OkStatus();
  }
  absl::Status Data(const std::string& name, absl::string_view bytes) {
    if (bytes.empty()) return absl::OkStatus();
    if (archive_write_data(a_, bytes.data(), bytes.size()) != static_cast<la_ssize_t>(bytes.size())) {
      return Error(name);
    }
    return absl::OkStatus();
  }
  absl::Status Error(const std::string& name) const {
    const char* why = archive_error_string(a_);
    return absl::InternalError(
        absl::StrCat(out_, ": write member ", name, ": ", why != nullptr ? why : "libarchive error"));
  }

 private:
  archive* a_;
  int64_t mtime_;
  std::string out_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EvidencePackageWriter>> EvidencePackageWriter::Create(
    const boost::filesystem::path& out, int64_t mtime) {
  boost::system::error_code ec;
  if (boost::filesystem::symlink_status(out, ec).type() != boost::filesystem::file_not_found) {
    return absl::AlreadyExistsError(absl::StrCat(out.string(), ": exists; a package is never overwritten"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(auto spool, TempBeside(out));
  ::unlink(spool.second.c_str());  // nameless from here: gone with the descriptor
  return std::unique_ptr<EvidencePackageWriter>(
      new EvidencePackageWriter(out, mtime, std::move(spool.first)));
}

absl::Status EvidencePackageWriter::Add(const std::string& name, absl::string_view bytes) {
  if (name == kManifestMember || EvidenceSection(name) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" is no member an evidence package may hold"));
  }
  if (!names_.insert(name).second) {
    return absl::InvalidArgumentError(absl::StrCat("member \"", name, "\" added twice"));
  }
  OFFBOARD_RETURN_IF_ERROR(WriteAll(spool_.get(), bytes, "the package spool beside " + out_.string()));
  spooled_ += bytes.size();
  members_.push_back({.name = name, .size = bytes.size(), .sha256 = DigestHex(Sha256Of(bytes))});
  return absl::OkStatus();
}

absl::Status EvidencePackageWriter::Finish(
    const std::function<absl::StatusOr<std::string>(const std::vector<ManifestEntry>&)>& manifest) {
  OFFBOARD_ASSIGN_OR_RETURN(const std::string manifest_bytes, manifest(members_));
  OFFBOARD_ASSIGN_OR_RETURN(auto partial, TempBeside(out_));
  const std::string& partial_name = partial.second;
  const auto remove_partial = [&](absl::Status status) {
    ::unlink(partial_name.c_str());
    return status;
  };

  std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
  if (!a) return remove_partial(absl::ResourceExhaustedError("archive_write_new failed"));
  TarWriter tar(a.get(), mtime_, out_.string());
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open_fd(a.get(), partial.first.get()) != ARCHIVE_OK) {
    return remove_partial(tar.Error(std::string(kManifestMember)));
  }
  const std::string manifest_name(kManifestMember);
  absl::Status status = tar.Header(manifest_name, manifest_bytes.size());
  if (status.ok()) status = tar.Data(manifest_name, manifest_bytes);

  std::string buffer(1 << 20, '\0');
  uint64_t offset = 0;
  for (const ManifestEntry& member : members_) {
    if (!status.ok()) break;
    status = tar.Header(member.name, member.size);
    for (uint64_t left = member.size; status.ok() && left > 0;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
      const ssize_t n = ::pread(spool_.get(), buffer.data(), want, static_cast<off_t>(offset));
      if (n <= 0) {
        status = n < 0 ? ErrnoToStatus(errno, "read the package spool")
                       : absl::DataLossError("the package spool is shorter than written");
        break;
      }
      status = tar.Data(member.name, absl::string_view(buffer.data(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
      left -= static_cast<uint64_t>(n);
    }
  }
  if (status.ok() && archive_write_close(a.get()) != ARCHIVE_OK) status = tar.Error("(end)");
  if (!status.ok()) return remove_partial(status);
  if (::fsync(partial.first.get()) != 0) {
    return remove_partial(ErrnoToStatus(errno, absl::StrCat("fsync ", partial_name)));
  }
  // link() refuses to replace a file that appeared meanwhile.
  if (::link(partial_name.c_str(), out_.c_str()) != 0) {
    return remove_partial(ErrnoToStatus(errno, absl::StrCat("move the package to ", out_.string())));
  }
  ::unlink(partial_name.c_str());
  const std::string dir = out_.has_parent_path() ? out_.parent_path().string() : ".";
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("fsync directory ", dir));
  }
  return absl::OkStatus();
}

}  // namespace offboard::common
