// The wipe-policy parser (protobuf text format plus Offboard's checks): what
// it accepts passes the checks applied to policies inside orders, and
// survives a round trip through the binary form orders carry.
#include "common/policy/wipe_policy.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto policy =
      offboard::common::ParseWipePolicy(offboard::fuzz::AsAbslText(data, size), "fuzz.textproto");
  if (!policy.ok()) {
    OFFBOARD_FUZZ_CHECK(!policy.status().message().empty(), "an error without a message");
    return 0;
  }
  absl::Status valid = offboard::common::ValidateWipePolicy(*policy, "fuzz.textproto");
  OFFBOARD_FUZZ_CHECK(valid.ok(), "accepted a policy the order checks refuse: " + valid.ToString());
  offboard::v1::WipePolicy again;
  OFFBOARD_FUZZ_CHECK(again.ParseFromString(policy->SerializeAsString()), "binary round trip");
  OFFBOARD_FUZZ_CHECK(offboard::common::ValidateWipePolicy(again, "fuzz.textproto").ok(),
                      "binary round trip changed validity");
  return 0;
}
