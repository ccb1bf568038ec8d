// One overwrite pass over a file's allocated blocks, and reading it back from
// the medium to prove it landed.
//
// A pass writes its pattern over every allocated extent of the file, rounded
// out to whole filesystem blocks (the tail of the last block held the bank's
// bytes too), and never into holes: writing a hole would allocate fresh
// blocks that held nothing, and could fill the disk with a sparse file's
// apparent size. `fdatasync` ends every pass. Random passes come from
// AES-256-CTR under a key drawn from the OS for that pass only; the stream at
// any offset can be generated again, so verification compares without keeping
// a copy. Verification reads with O_DIRECT where the filesystem allows it and
// otherwise drops the file's cached pages first, so it reads the device, not
// the page cache; each byte is read once.
//
//   OFFBOARD_ASSIGN_OR_RETURN(PatternStream pattern, PatternStream::ForPass(pass));
//   OFFBOARD_ASSIGN_OR_RETURN(std::vector<Extent> extents, AllocatedExtents(fd, size, 4096));
//   OFFBOARD_RETURN_IF_ERROR(WritePass(fd, extents, pattern, "/srv/x.csv"));
//   OFFBOARD_ASSIGN_OR_RETURN(VerifyMethod how, VerifyPass(fd, extents, pattern, "/srv/x.csv"));
//
// A PatternStream is used by one thread at a time (WritePass hands it to its
// keystream thread, one chunk at a time).
#ifndef OFFBOARD_AGENT_WIPE_OVERWRITE_H_
#define OFFBOARD_AGENT_WIPE_OVERWRITE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "offboard/v1/policy.pb.h"

namespace offboard::agent {

class PatternStream {
 public:
  // INVALID_ARGUMENT for an unspecified pattern or a byte over 255; INTERNAL
  // if the OS random source or the cipher fails.
  static absl::StatusOr<PatternStream> ForPass(const offboard::v1::OverwritePass& pass);

  PatternStream(PatternStream&&) noexcept;
  PatternStream& operator=(PatternStream&&) noexcept;
  ~PatternStream();

  // The pattern's bytes for file offsets [offset, offset + out.size()).
  void Fill(uint64_t offset, std::span<uint8_t> out);

  // Random patterns only: XORs the keystream at `offset` into `data`, which
  // turns bytes that are the pattern into zeros (verification's comparison).
  void XorKeystream(uint64_t offset, std::span<uint8_t> data);

  // "zeros", "ones", "random", "byte 0x55": the report's words for the pass.
  const std::string& name() const { return name_; }

 private:
  struct Cipher;
  PatternStream(std::string name, int fill_byte, std::unique_ptr<Cipher> cipher);
  void SeekKeystream(uint64_t offset);

  std::string name_;
  int fill_byte_ = 0;               // for constant patterns
  std::unique_ptr<Cipher> cipher_;  // for random ones
};

// A byte range of a file.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The file's data extents (SEEK_DATA / SEEK_HOLE) within [0, size) rounded
// out to `block_size` and merged; holes are left out. Where the filesystem
// cannot tell data from holes, the whole rounded range.
absl::StatusOr<std::vector<Extent>> AllocatedExtents(int fd, uint64_t size, uint64_t block_size);

// Writes `pattern` over every extent, then fdatasync. The errno status of a
// failed write or sync, naming `display_path` and the offset.
absl::Status WritePass(int fd, const std::vector<Extent>& extents, PatternStream& pattern,
                       absl::string_view display_path);

enum class VerifyMethod {
  kDirectIo,      // O_DIRECT reads: the device's blocks
  kCacheDropped,  // cached pages dropped (POSIX_FADV_DONTNEED), then read
};
const char* VerifyMethodName(VerifyMethod method);  // "direct_io", "cache_dropped"

// Reads every extent back from the medium and compares it with `pattern`.
// DATA_LOSS naming the path and the first offset that differs.
absl::StatusOr<VerifyMethod> VerifyPass(int fd, const std::vector<Extent>& extents,
                                        PatternStream& pattern, absl::string_view display_path);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_OVERWRITE_H_
