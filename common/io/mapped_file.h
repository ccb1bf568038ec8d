// A file mapped read-only for one pass over it. Large inputs (an inventory of
// a million rows, fingerprint sets of a million digests) are parsed in place,
// and the pages already parsed are given back with ReleaseBefore, so resident
// memory stays a few MiB whatever the size of the file.
//
//   OFFBOARD_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
//   std::string_view text = file.contents();
//   ... parse text[0, n) ...
//   file.ReleaseBefore(n);  // text stays valid; those pages are read again if touched
//
// A file that cannot be mapped (a pipe, a /proc file, an empty file) is read
// into memory instead, and ReleaseBefore does nothing.
//
// The mapping assumes nobody truncates the file while it is mapped: touching a
// page past the new end raises SIGBUS, as for any mapped file. Inputs the
// agent maps are the bank's, handed to it on the command line.
//
// Thread-compatible: contents() may be read from several threads.
#ifndef OFFBOARD_COMMON_IO_MAPPED_FILE_H_
#define OFFBOARD_COMMON_IO_MAPPED_FILE_H_

#include <boost/filesystem/path.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace offboard::common {

class MappedFile {
 public:
  // NOT_FOUND / PERMISSION_DENIED / INTERNAL naming the path when it cannot be
  // opened or read, INVALID_ARGUMENT "<path>: is a directory": the errors of
  // ReadFileToString.
  static absl::StatusOr<MappedFile> Open(const boost::filesystem::path& path);

  MappedFile(MappedFile&&) noexcept = default;
  MappedFile& operator=(MappedFile&&) noexcept = default;

  // All bytes of the file; valid as long as this object.
  std::string_view contents() const {
    return mapping_ != nullptr ? std::string_view(mapping_.get(), mapping_.get_deleter().size)
                               : std::string_view(copy_);
  }

  // Drops the whole pages of contents()[0, end) from this process's resident
  // memory. Only a hint about memory: contents() stays valid and unchanged.
  void ReleaseBefore(size_t end);

 private:
  struct Unmap {
    size_t size;
    void operator()(char* data) const;
  };

  MappedFile() = default;

  std::unique_ptr<char, Unmap> mapping_;
  std::string copy_;  // for a file that cannot be mapped
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_IO_MAPPED_FILE_H_
