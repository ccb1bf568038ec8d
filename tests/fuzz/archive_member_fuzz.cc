// Scanning one file or archive member: the bytes are a file on "disk" (an
// in-memory file) that the examiner hashes, opens as an archive of any format
// libarchive reads, recurses into, and matches for derived records. Whatever
// the bytes, it returns with findings and errors, never crashes, and keeps
// its promises about what it reports.
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "agent/scan/derived_matcher.h"
#include "agent/scan/stream_examiner.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

// One dataset whose identifiers are six-digit numbers 100000..100009, so
// that a CSV member holding three of them is a derived finding.
const offboard::agent::FingerprintIndex& Index() {
  static const offboard::agent::FingerprintIndex* index = [] {
    offboard::common::FingerprintSet set;
    set.dataset_id = "fuzz-dataset";
    set.hmac_key.assign(32, 0x5a);
    set.identifier_regex = "\\b1[0-9]{5}\\b";
    set.min_matches = 3;
    for (int id = 100000; id < 100010; ++id) {
      std::string text = std::to_string(id);
      std::array<uint8_t, 32> digest{};
      unsigned int length = 0;
      HMAC(EVP_sha256(), set.hmac_key.data(), static_cast<int>(set.hmac_key.size()),
           reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest.data(), &length);
      set.digests.push_back(digest);
    }
    std::sort(set.digests.begin(), set.digests.end());
    std::vector<offboard::common::FingerprintSet> sets{std::move(set)};
    auto built = offboard::agent::FingerprintIndex::Build(std::move(sets));
    OFFBOARD_FUZZ_CHECK(built.ok(), built.status().ToString());
    return new offboard::agent::FingerprintIndex(*std::move(built));
  }();
  return *index;
}

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Small limits: an input that inflates (a compression bomb) meets them in
// milliseconds, so the limit paths are exercised often and the fuzzer spends
// its time on parsers, not on scanning megabytes of zeros. Above the derived
// matcher's 1 MiB line limit, so that its cut is reached.
offboard::agent::ExaminationLimits Limits() {
  offboard::agent::ExaminationLimits limits;
  limits.max_member_bytes = 2ull << 20;
  limits.max_archive_bytes = 8ull << 20;
  limits.per_file_timeout = std::chrono::seconds(20);
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const offboard::agent::ExaminationLimits limits = Limits();
  // One examiner for every input, as the agent keeps one per scanning thread.
  // Its read buffers (1.25 MiB) are then made once: made and zeroed again for
  // each input, they took half of the fuzzer's time.
  static offboard::agent::StreamExaminer& examiner =
      *new offboard::agent::StreamExaminer(limits, &Index());

  offboard::fuzz::MemoryFile file(data, size);
  std::vector<offboard::agent::ScanError> errors;
  offboard::agent::ScanStats stats;
  bool saw_file = false;
  bool file_hashed = false;
  const double cpu_before = ThreadCpuSeconds();
  examiner.ExamineFile(
      file.fd(), "fuzz.bin", size, /*hash_file=*/true,
      [&](const offboard::agent::StreamResult& stream) {
        OFFBOARD_FUZZ_CHECK(!saw_file, "a stream reported after the file itself");
        if (stream.member.empty()) {
          saw_file = true;
          OFFBOARD_FUZZ_CHECK(stream.size == size, "the file's size is not its length");
          file_hashed = stream.hashed;
          if (stream.hashed) {
            offboard::common::Sha256Digest expected{};
            SHA256(data, size, expected.data());
            OFFBOARD_FUZZ_CHECK(stream.sha256 == expected, "the file's SHA-256 is wrong");
          }
        }
        // One more for a compressed layer read alone (a weak signature
        // under it), which the limit does not count; never two.
        OFFBOARD_FUZZ_CHECK(stream.member.size() <= limits.max_depth + 2,
                            "a member deeper than the depth limit");
        OFFBOARD_FUZZ_CHECK(stream.size <= limits.max_member_bytes || stream.member.empty(),
                            "a member over the member limit");
        for (const auto& match : stream.derived) {
          OFFBOARD_FUZZ_CHECK(match.records_matched >= 3 && match.records_matched <= 10,
                              "a derived match outside what the set can give");
        }
      },
      errors, stats);
  const double cpu_seconds = ThreadCpuSeconds() - cpu_before;
  for (const auto& error : errors) {
    OFFBOARD_FUZZ_CHECK(!error.reason.empty(), "an error without a reason");
    OFFBOARD_FUZZ_CHECK(error.path == "fuzz.bin", "an error naming another file: " + error.path);
  }
  OFFBOARD_FUZZ_CHECK(saw_file, "the file itself was not reported");
  // Asked to hash the file, the examiner hashes all of it, whatever else it
  // found inside. The per-file time limit is wall time: on a starved machine
  // (a nice-19 fuzzer beside a build) it may stop the file, and must then
  // say so; an input that really spends that long on the CPU is a finding.
  const bool timed_out = std::any_of(errors.begin(), errors.end(), [](const auto& error) {
    return error.reason.starts_with("time limit exceeded");
  });
  OFFBOARD_FUZZ_CHECK(file_hashed || timed_out,
                      "the file was not hashed, and no time limit said why");
  OFFBOARD_FUZZ_CHECK(file_hashed || cpu_seconds < 5,
                      "the time limit stopped a file after seconds of CPU: a slow input");
  return 0;
}
