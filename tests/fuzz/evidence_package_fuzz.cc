// The evidence package reader, which offboard-verify runs on packages from
// anyone: whatever the bytes, every member it hands over has a name a member
// may have, fits the limits, and comes once; anything else is an error with
// a message.
#include <set>
#include <string>

#include "common/evidence/package_reader.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  offboard::fuzz::MemoryFile file(data, size);
  offboard::common::PackageLimits limits;
  limits.max_member_bytes = 1 << 20;
  limits.max_total_bytes = 8 << 20;
  limits.max_members = 1000;

  std::set<std::string> names;
  uint64_t total = 0;
  size_t expected_ordinal = 0;
  absl::Status status = offboard::common::ReadEvidencePackage(
      file.path(), limits, [&](offboard::common::PackageMember& member) {
        OFFBOARD_FUZZ_CHECK(member.ordinal == expected_ordinal++, "members out of order");
        OFFBOARD_FUZZ_CHECK(offboard::common::CheckMemberName(member.name).ok(),
                            "handed over a member with a bad name: " + member.name);
        OFFBOARD_FUZZ_CHECK(names.insert(member.name).second,
                            "a member handed over twice: " + member.name);
        OFFBOARD_FUZZ_CHECK(member.bytes.size() <= limits.max_member_bytes,
                            "a member over the limit");
        total += member.bytes.size();
        OFFBOARD_FUZZ_CHECK(total <= limits.max_total_bytes, "members over the total limit");
        OFFBOARD_FUZZ_CHECK(names.size() <= limits.max_members, "more members than the limit");
        return absl::OkStatus();
      });
  if (!status.ok()) {
    OFFBOARD_FUZZ_CHECK(!status.message().empty(), "an error without a message");
  }
  return 0;
}
