#include "common/intoto/officer_scope.h"

#include "absl/strings/str_cat.h"

namespace offboard::common {

absl::Status CheckOfficerScope(const nlohmann::json& items, const std::string& officer_vendor,
                               const DatasetsByVendor& held, const std::string& contract_id,
                               SharedDatasets shared) {
  if (!items.is_array()) return absl::InvalidArgumentError("field 'items': must be an array");
  const auto own = held.find(officer_vendor);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string field = absl::StrCat("field 'items[", i, "].dataset_id'");
    const auto dataset = items[i].is_object() ? items[i].find("dataset_id") : items[i].end();
    if (!items[i].is_object() || dataset == items[i].end() || !dataset->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": must be a string"));
    }
    const std::string& id = dataset->get_ref<const std::string&>();
    if (own == held.end() || !own->second.contains(id)) {
      return absl::PermissionDeniedError(absl::StrCat(field, ": dataset ", id,
                                                      " is not one that vendor ", officer_vendor,
                                                      " holds in contract ", contract_id));
    }
    for (const auto& [vendor, datasets] : held) {
      if (shared == SharedDatasets::kRefuse && vendor != officer_vendor && datasets.contains(id)) {
        return absl::PermissionDeniedError(absl::StrCat(
            field, ": dataset ", id, " is also held by vendor ", vendor, " in contract ",
            contract_id, ", and a statement cannot tell their copies apart"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace offboard::common
