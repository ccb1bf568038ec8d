// The inventory CSV parser: whole-file and record-by-record readings of the
// same bytes must agree, on success (the same records) and on failure (the
// same error).
#include <string>
#include <vector>

#include "common/inventory/inventory_csv.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using offboard::common::InventoryRecord;
  std::string_view text = offboard::fuzz::AsText(data, size);
  auto whole = offboard::common::ParseInventoryCsv(text, "fuzz.csv");

  std::vector<std::string> streamed;
  absl::Status status =
      offboard::common::ForEachInventoryRecord(text, "fuzz.csv", [&](const InventoryRecord& r) {
        streamed.push_back(r.dataset_id + "\n" + r.path + "\n" + std::to_string(r.line));
        return absl::OkStatus();
      });

  OFFBOARD_FUZZ_CHECK(whole.ok() == status.ok(),
                      "ParseInventoryCsv and ForEachInventoryRecord disagree: " +
                          whole.status().ToString() + " vs " + status.ToString());
  if (!whole.ok()) {
    OFFBOARD_FUZZ_CHECK(whole.status() == status, "different errors: " + whole.status().ToString() +
                                                      " vs " + status.ToString());
    OFFBOARD_FUZZ_CHECK(!whole.status().message().empty(), "an error without a message");
    return 0;
  }
  OFFBOARD_FUZZ_CHECK(whole->records.size() == streamed.size(), "different record counts");
  for (size_t i = 0; i < streamed.size(); ++i) {
    const InventoryRecord& r = whole->records[i];
    OFFBOARD_FUZZ_CHECK(streamed[i] == r.dataset_id + "\n" + r.path + "\n" + std::to_string(r.line),
                        "record " + std::to_string(i) + " differs");
    OFFBOARD_FUZZ_CHECK(r.sha256.size() == 64, "accepted a sha256 that is not 64 digits");
    OFFBOARD_FUZZ_CHECK(!r.path.empty() && !r.dataset_id.empty(), "accepted an empty field");
  }
  return 0;
}
