// The fingerprint-set parser (JSON with an ECMAScript identifier regex), and
// the scan-time index built from what it accepts.
#include <algorithm>

#include "agent/scan/derived_matcher.h"
#include "common/inventory/fingerprint_set.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto set = offboard::common::ParseFingerprintSet(offboard::fuzz::AsText(data, size), "fuzz.json");
  if (!set.ok()) {
    OFFBOARD_FUZZ_CHECK(!set.status().message().empty(), "an error without a message");
    return 0;
  }
  OFFBOARD_FUZZ_CHECK(!set->dataset_id.empty(), "accepted an empty dataset_id");
  OFFBOARD_FUZZ_CHECK(!set->digests.empty(), "accepted no digests");
  OFFBOARD_FUZZ_CHECK(set->min_matches >= 1 && set->min_matches <= set->digests.size(),
                      "accepted a min_matches that can never match");
  OFFBOARD_FUZZ_CHECK(
      std::is_sorted(set->digests.begin(), set->digests.end()) &&
          std::adjacent_find(set->digests.begin(), set->digests.end()) == set->digests.end(),
      "digests not sorted and unique");
  // What the controller accepts, every agent must be able to scan for (a set
  // the agents refuse would fail every wipe order); then match the input
  // itself as content.
  std::vector<offboard::common::FingerprintSet> sets{*std::move(set)};
  auto index = offboard::agent::FingerprintIndex::Build(std::move(sets));
  OFFBOARD_FUZZ_CHECK(index.ok(), index.status().ToString());
  offboard::agent::DerivedMatcher matcher(*index);
  matcher.Consume({data, size});
  matcher.Finish();
  return 0;
}
