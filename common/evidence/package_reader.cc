#include "common/evidence/package_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace offboard::common {
namespace {

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

std::string Quoted(absl::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

absl::Status CheckMemberName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty member name");
  if (name.front() == '/') return absl::InvalidArgumentError("absolute member name");
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '\\') {
      return absl::InvalidArgumentError("member name holds a control character or backslash");
    }
  }
  for (const absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(
          "member name holds an empty, \".\" or \"..\" component");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadEvidencePackage(const boost::filesystem::path& package,
                                 const PackageLimits& limits,
                                 const std::function<absl::Status(PackageMember&)>& on_member) {
  const std::string where = package.string();
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  if (!a) return absl::ResourceExhaustedError("archive_read_new failed");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  const auto archive_error = [&](absl::string_view after) {
    const char* why = archive_error_string(a.get());
    return absl::DataLossError(absl::StrCat(where, ": not a readable .tar.gz (", after, "): ",
                                            why != nullptr ? why : "unknown error"));
  };
  if (archive_read_open_filename(a.get(), package.c_str(), 1 << 20) != ARCHIVE_OK) {
    return archive_error("at the start");
  }

  absl::flat_hash_set<std::string> seen;
  uint64_t total = 0;
  PackageMember member;
  std::string previous = "the start";
  for (size_t ordinal = 0;; ++ordinal) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) return archive_error(absl::StrCat("after ", previous));
    const char* raw_name = archive_entry_pathname(entry);
    member.ordinal = ordinal;
    member.name = raw_name != nullptr ? raw_name : "";
    const std::string label = absl::StrCat(where, ": member ", ordinal + 1, " ", Quoted(member.name));
    const auto refuse = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": ", why));
    };
    if (ordinal >= limits.max_members) return refuse("more members than a package may hold");
    if (absl::Status name_ok = CheckMemberName(member.name); !name_ok.ok()) {
      return refuse(name_ok.message());
    }
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr ||
        archive_entry_symlink(entry) != nullptr) {
      return refuse("not a regular file (links, directories and devices are refused)");
    }
    if (!seen.insert(member.name).second) return refuse("a second member of the same name");
    if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0) {
      return refuse("no size in its header");
    }
    const auto size = static_cast<uint64_t>(archive_entry_size(entry));
    if (size > limits.max_member_bytes) {
      return refuse(absl::StrCat(size, " bytes, over the limit of ", limits.max_member_bytes));
    }
    total += size;
    if (total > limits.max_total_bytes) {
      return refuse(absl::StrCat("the package exceeds ", limits.max_total_bytes, " bytes"));
    }
    member.bytes.resize(size);
    size_t got = 0;
    while (got < size) {
      const la_ssize_t n = archive_read_data(a.get(), member.bytes.data() + got, size - got);
      if (n < 0) return archive_error(absl::StrCat("in ", Quoted(member.name)));
      if (n == 0) return archive_error(absl::StrCat("in ", Quoted(member.name), ", cut short"));
      got += static_cast<size_t>(n);
    }
    previous = Quoted(member.name);
    if (absl::Status s = on_member(member); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace offboard::common
