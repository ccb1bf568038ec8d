#include "common/intoto/officer_scope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

nlohmann::json Items(std::initializer_list<const char*> datasets) {
  nlohmann::json items = nlohmann::json::array();
  for (const char* dataset : datasets) {
    items.push_back({{"dataset_id", dataset}, {"location", "tape"}, {"statement", "shredded"}});
  }
  return items;
}

const DatasetsByVendor kHeld = {{"vendor-a", {"ds-a", "ds-shared"}},
                                {"vendor-b", {"ds-b", "ds-shared"}}};

TEST(OfficerScopeTest, AnOfficerMaySpeakForTheirOwnVendorsDatasets) {
  EXPECT_TRUE(CheckOfficerScope(Items({"ds-a"}), "vendor-a", kHeld, "c-1").ok());
  EXPECT_TRUE(CheckOfficerScope(Items({"ds-b", "ds-b"}), "vendor-b", kHeld, "c-1").ok());
}

TEST(OfficerScopeTest, AnotherVendorsDatasetIsRefusedNamingTheItem) {
  const absl::Status status = CheckOfficerScope(Items({"ds-a", "ds-b"}), "vendor-a", kHeld, "c-1");
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("'items[1].dataset_id': dataset ds-b is not one that "
                                          "vendor vendor-a holds in contract c-1"));
}

TEST(OfficerScopeTest, AVendorTheContractDoesNotKnowHoldsNothing) {
  const absl::Status status = CheckOfficerScope(Items({"ds-a"}), "vendor-z", kHeld, "c-1");
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
}

TEST(OfficerScopeTest, ADatasetTwoVendorsHoldIsRefusedToBoth) {
  for (const char* vendor : {"vendor-a", "vendor-b"}) {
    const absl::Status status = CheckOfficerScope(Items({"ds-shared"}), vendor, kHeld, "c-1");
    EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr("is also held by vendor"));
  }
}

// The verifier lets a shared dataset pass (reconciliation gives it no
// effect), but never another vendor's own dataset.
TEST(OfficerScopeTest, IgnoringSharedDatasetsStillRefusesAnotherVendorsOwn) {
  EXPECT_TRUE(
      CheckOfficerScope(Items({"ds-shared"}), "vendor-a", kHeld, "c-1", SharedDatasets::kIgnore)
          .ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      CheckOfficerScope(Items({"ds-b"}), "vendor-a", kHeld, "c-1", SharedDatasets::kIgnore)));
}

TEST(OfficerScopeTest, MalformedItemsAreInvalidArguments) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckOfficerScope(nlohmann::json(), "vendor-a", kHeld, "c")));
  EXPECT_TRUE(absl::IsInvalidArgument(
      CheckOfficerScope(nlohmann::json::array({1}), "vendor-a", kHeld, "c")));
  EXPECT_TRUE(absl::IsInvalidArgument(
      CheckOfficerScope(nlohmann::json::array({{{"dataset_id", 7}}}), "vendor-a", kHeld, "c")));
}

}  // namespace
}  // namespace offboard::common
