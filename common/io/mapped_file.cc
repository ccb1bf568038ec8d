#include "common/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/io/read_file.h"
#include "common/io/unique_fd.h"
#include "common/status/errno_status.h"

namespace offboard::common {
void MappedFile::Unmap::operator()(char* data) const { ::munmap(data, size); }

absl::StatusOr<MappedFile> MappedFile::Open(const boost::filesystem::path& path) {
  const UniqueFd owned(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!owned) return ErrnoToStatus(errno, path.string());
  const int fd = owned.get();
  struct stat info {};
  if (::fstat(fd, &info) != 0) return ErrnoToStatus(errno, path.string());
  MappedFile file;
  if (S_ISREG(info.st_mode) && info.st_size > 0) {
    const size_t size = static_cast<size_t>(info.st_size);
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data != MAP_FAILED) {
      // Read ahead generously and drop pages behind: the parsers read once,
      // front to back, apart from a rare look back at an earlier record.
      ::madvise(data, size, MADV_SEQUENTIAL);
      file.mapping_ = std::unique_ptr<char, Unmap>(static_cast<char*>(data), Unmap{size});
      return file;
    }
  }
  // Pipes, /proc files and the like; ReadFdToString also rejects directories.
  absl::StatusOr<std::string> copy = ReadFdToString(fd, path);
  if (!copy.ok()) return copy.status();
  file.copy_ = *std::move(copy);
  return file;
}

void MappedFile::ReleaseBefore(size_t end) {
  if (mapping_ == nullptr) return;
  static const size_t page_size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  end = std::min(end, mapping_.get_deleter().size) / page_size * page_size;
  // From the start each time, so that pages touched again since the last call
  // (a look back at an earlier record) go too; absent pages cost nothing.
  if (end > 0) ::madvise(mapping_.get(), end, MADV_DONTNEED);
}

}  // namespace offboard::common
