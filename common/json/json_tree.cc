#include "common/json/json_tree.h"

#include <simdjson.h>

#include <string>

namespace offboard::common {
namespace {

nlohmann::json Convert(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::OBJECT: {
      nlohmann::json object = nlohmann::json::object();
      for (simdjson::dom::key_value_pair field : simdjson::dom::object(element)) {
        object[std::string(field.key)] = Convert(field.value);
      }
      return object;
    }
    case simdjson::dom::element_type::ARRAY: {
      nlohmann::json array = nlohmann::json::array();
      simdjson::dom::array elements(element);
      array.get_ref<nlohmann::json::array_t&>().reserve(elements.size());
      for (simdjson::dom::element value : elements) array.push_back(Convert(value));
      return array;
    }
    case simdjson::dom::element_type::STRING:
      return std::string(std::string_view(element));
    case simdjson::dom::element_type::INT64: {
      const int64_t value = int64_t(element);
      if (value >= 0) return static_cast<uint64_t>(value);
      return value;
    }
    case simdjson::dom::element_type::UINT64:
      return uint64_t(element);
    case simdjson::dom::element_type::DOUBLE:
      return double(element);
    case simdjson::dom::element_type::BOOL:
      return bool(element);
    case simdjson::dom::element_type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

nlohmann::json ToNlohmann(const SimdView& value) {
  if (!value.present()) return nullptr;
  return Convert(value.element());
}

}  // namespace offboard::common
