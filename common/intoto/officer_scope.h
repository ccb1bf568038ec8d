// What a vendor officer's self-attestation may speak for.
//
// An officer accounts for their own vendor's datasets only: in a contract
// shared by vendors, one vendor cannot account for another's copies. And a
// statement covers files by dataset (and digest), not by vendor, so for a
// dataset two vendors hold it would cover the other vendor's copies too;
// no officer may speak for such a dataset. The controller's intake and the
// offline verifier apply the same rule through this one function.
//
//   DatasetsByVendor held = {{"vendor-a", {"ds-1"}}, {"vendor-b", {"ds-2"}}};
//   absl::Status scope = CheckOfficerScope(predicate["items"], "vendor-a", held, "c-1");
//
// Pure function: thread-safe.
#ifndef OFFBOARD_COMMON_INTOTO_OFFICER_SCOPE_H_
#define OFFBOARD_COMMON_INTOTO_OFFICER_SCOPE_H_

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "absl/status/status.h"

namespace offboard::common {

// vendor id -> the dataset ids that vendor holds in one contract's inventory.
using DatasetsByVendor = std::map<std::string, std::set<std::string>>;

// What to do with an item whose dataset another vendor holds too. The intake
// refuses it. The verifier lets it pass: reconciliation gives a statement no
// effect on a dataset two vendors hold (common/reconcile/reconciler.h), and a
// statement accepted before a second vendor's rows were imported must not
// make the whole package fail.
enum class SharedDatasets { kRefuse, kIgnore };

// OK when every item's "dataset_id" is held by `officer_vendor` (and, with
// kRefuse, by no other vendor in `held`). PERMISSION_DENIED naming the item
// and the reason otherwise; INVALID_ARGUMENT when `items` is not an array of
// objects with a string "dataset_id".
absl::Status CheckOfficerScope(const nlohmann::json& items, const std::string& officer_vendor,
                               const DatasetsByVendor& held, const std::string& contract_id,
                               SharedDatasets shared = SharedDatasets::kRefuse);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_INTOTO_OFFICER_SCOPE_H_
