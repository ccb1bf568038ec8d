#include "common/json/duplicate_keys.h"

#include <algorithm>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace offboard::common {
namespace {

// One step of the way from the top: a member name or an array index.
using PathStep = std::variant<std::string_view, size_t>;

std::string FormatPath(const std::vector<PathStep>& path) {
  if (path.empty()) return "the top level";
  std::string text;
  for (const PathStep& step : path) {
    if (const auto* name = std::get_if<std::string_view>(&step)) {
      if (!text.empty()) text += '.';
      text += absl::CHexEscape(absl::string_view(name->data(), name->size()));
    } else {
      absl::StrAppend(&text, "[", std::get<size_t>(step), "]");
    }
  }
  return text;
}

// The repeated key of the first object (depth first) that has one, and the
// path to that object in `path`; nullopt when there is none.
std::optional<std::string_view> FindRepeatedKey(simdjson::dom::element value,
                                                std::vector<PathStep>& path,
                                                std::vector<std::string_view>& scratch) {
  if (value.type() == simdjson::dom::element_type::ARRAY) {
    size_t index = 0;
    for (simdjson::dom::element element : simdjson::dom::array(value)) {
      path.emplace_back(index++);
      if (auto key = FindRepeatedKey(element, path, scratch)) return key;
      path.pop_back();
    }
    return std::nullopt;
  }
  if (value.type() != simdjson::dom::element_type::OBJECT) return std::nullopt;
  const simdjson::dom::object object(value);
  scratch.clear();
  for (simdjson::dom::key_value_pair field : object) scratch.push_back(field.key);
  std::sort(scratch.begin(), scratch.end());
  if (const auto repeated = std::adjacent_find(scratch.begin(), scratch.end());
      repeated != scratch.end()) {
    return *repeated;
  }
  for (simdjson::dom::key_value_pair field : object) {
    path.emplace_back(field.key);
    if (auto key = FindRepeatedKey(field.value, path, scratch)) return key;
    path.pop_back();
  }
  return std::nullopt;
}

}  // namespace

absl::Status CheckNoDuplicateKeys(simdjson::dom::element value, absl::string_view what) {
  std::vector<PathStep> path;
  std::vector<std::string_view> scratch;
  const std::optional<std::string_view> key = FindRepeatedKey(value, path, scratch);
  if (!key) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": key \"", absl::CHexEscape(absl::string_view(key->data(), key->size())),
                   "\" appears twice in ", FormatPath(path)));
}

}  // namespace offboard::common
