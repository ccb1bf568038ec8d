// offboard-wipe-passes: runs the wipe engine's overwrite passes (agent/wipe/
// overwrite.h) over one existing file IN PLACE and prints each phase's wall
// time, for bench/wipe_vs_peers.sh to set beside `shred` and `dd`. The file is
// never renamed, truncated or unlinked: only the passes are timed.
//
//   offboard-wipe-passes FILE --pattern zeros --pattern ones --pattern random --verify all
//
// prints one line per phase, pass numbers from 0, seconds:
//
//   write 0 1.234567
//   verify 0 0.456789 direct_io
//   total 5.678901
//
// DESTROYS THE CONTENTS OF FILE.
#include <fcntl.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/wipe/overwrite.h"
#include "common/io/unique_fd.h"
#include "common/status/errno_status.h"

namespace {

using offboard::agent::Extent;
using offboard::agent::PatternStream;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One of the names --pattern accepts.
offboard::v1::PassPattern PatternNamed(const std::string& name) {
  if (name == "zeros") return offboard::v1::PASS_PATTERN_ZEROS;
  if (name == "ones") return offboard::v1::PASS_PATTERN_ONES;
  return offboard::v1::PASS_PATTERN_RANDOM;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "offboard-wipe-passes: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Overwrites FILE in place with the wipe engine's passes (agent/wipe/overwrite.h) and "
      "prints each phase's wall time in seconds. DESTROYS THE CONTENTS OF FILE; never renames "
      "or unlinks it.",
      "offboard-wipe-passes"};
  std::string path;
  std::vector<std::string> patterns;
  std::string verify = "none";
  app.add_option("FILE", path, "The file to overwrite (must exist)")->required();
  app.add_option("--pattern", patterns, "A pass, in order; repeat for several passes")
      ->required()
      ->check(CLI::IsMember({"zeros", "ones", "random"}));
  app.add_option("--verify", verify, "Which passes to read back and compare")
      ->check(CLI::IsMember({"none", "last", "all"}));
  CLI11_PARSE(app, argc, argv);

  const Clock::time_point start = Clock::now();
  offboard::common::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Fail(offboard::common::ErrnoToStatus(errno, "open " + path));
  struct stat st = {};
  if (::fstat(fd.get(), &st) != 0) {
    return Fail(offboard::common::ErrnoToStatus(errno, "fstat " + path));
  }
  if (!S_ISREG(st.st_mode)) {
    return Fail(absl::InvalidArgumentError(path + " is not a regular file"));
  }
  const uint64_t block = st.st_blksize > 0 ? static_cast<uint64_t>(st.st_blksize) : 4096;
  const auto extents =
      offboard::agent::AllocatedExtents(fd.get(), static_cast<uint64_t>(st.st_size), block);
  if (!extents.ok()) return Fail(extents.status());
  uint64_t bytes = 0;
  for (const Extent& extent : *extents) bytes += extent.length;
  std::printf("bytes %llu\n", static_cast<unsigned long long>(bytes));

  for (size_t k = 0; k < patterns.size(); ++k) {
    offboard::v1::OverwritePass pass;
    pass.set_pattern(PatternNamed(patterns[k]));
    auto pattern = PatternStream::ForPass(pass);
    if (!pattern.ok()) return Fail(pattern.status());

    Clock::time_point phase = Clock::now();
    if (absl::Status written = offboard::agent::WritePass(fd.get(), *extents, *pattern, path);
        !written.ok()) {
      return Fail(written);
    }
    std::printf("write %zu %.6f %s\n", k, SecondsSince(phase), pattern->name().c_str());
    std::fflush(stdout);

    if (verify == "all" || (verify == "last" && k + 1 == patterns.size())) {
      phase = Clock::now();
      const auto method = offboard::agent::VerifyPass(fd.get(), *extents, *pattern, path);
      if (!method.ok()) return Fail(method.status());
      std::printf("verify %zu %.6f %s\n", k, SecondsSince(phase),
                  offboard::agent::VerifyMethodName(*method));
      std::fflush(stdout);
    }
  }
  std::printf("total %.6f\n", SecondsSince(start));
  return 0;
}
