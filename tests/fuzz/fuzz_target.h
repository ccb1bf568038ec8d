// The entry point every fuzz target defines, and what targets share.
//
// Each target is one file with LLVMFuzzerTestOneInput. It builds two ways
// (tests/fuzz/CMakeLists.txt): with clang and libFuzzer in the fuzz build
// (scripts/test.sh's "fuzz"), and with the ordinary compiler and
// replay_main.cc in the other builds, where ctest runs it once over its seed
// corpus, so the seeds stay valid inputs and the targets keep compiling.
//
// A target aborts (OFFBOARD_FUZZ_CHECK) when a property that must hold for
// every input does not: that is a finding, like a crash.
#ifndef OFFBOARD_TESTS_FUZZ_FUZZ_TARGET_H_
#define OFFBOARD_TESTS_FUZZ_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#define OFFBOARD_FUZZ_CHECK(condition, what)                                     \
  do {                                                                           \
    if (!(condition)) {                                                          \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, \
                   std::string(what).c_str());                                   \
      std::abort();                                                              \
    }                                                                            \
  } while (false)

namespace offboard::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}
// The same for APIs that take abseil's string_view (Debian's abseil has its
// own type, not std::string_view).
inline absl::string_view AsAbslText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An anonymous in-memory file holding `data`, for code that reads files:
// nothing is written to disk. Closed on destruction.
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size);
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  int fd() const { return fd_; }
  // A path that opens the same file anew: /proc/self/fd/N.
  std::string path() const;

 private:
  int fd_ = -1;
};

}  // namespace offboard::fuzz

#endif  // OFFBOARD_TESTS_FUZZ_FUZZ_TARGET_H_
