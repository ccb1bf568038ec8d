// Read-only views of one JSON value, in an nlohmann::json tree or in a
// simdjson document, with the same small interface, so that the code that
// reads attestation predicates is written once and runs on either: the
// controller's store path on nlohmann trees, the verifier's hot path on
// simdjson's without building a tree of allocations per attestation.
//
//   template <typename View> std::string_view OrderOf(View predicate) {
//     return predicate["order_id"].string();   // "" when absent or no string
//   }
//   OrderOf(NlohmannView(&json));  OrderOf(SimdView(element));
//
// A view of something absent is valid and answers "no" to every is_*().
// Views do not own what they show: the tree or the parser must outlive them.
// Thread-compatible.
#ifndef OFFBOARD_COMMON_JSON_JSON_VIEW_H_
#define OFFBOARD_COMMON_JSON_JSON_VIEW_H_

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace offboard::common {

class NlohmannView {
 public:
  NlohmannView() = default;
  explicit NlohmannView(const nlohmann::json* value) : value_(value) {}

  bool present() const { return value_ != nullptr; }
  bool is_object() const { return value_ != nullptr && value_->is_object(); }
  bool is_array() const { return value_ != nullptr && value_->is_array(); }
  bool is_string() const { return value_ != nullptr && value_->is_string(); }
  bool is_boolean() const { return value_ != nullptr && value_->is_boolean(); }
  bool is_null() const { return value_ != nullptr && value_->is_null(); }
  // "" unless a string; false unless a boolean.
  std::string_view string() const {
    return is_string() ? std::string_view(value_->get_ref<const std::string&>()) : "";
  }
  bool boolean() const { return is_boolean() && value_->get<bool>(); }
  // The value of a non-negative integer; nullopt for anything else (1.0 too).
  std::optional<uint64_t> unsigned_integer() const {
    if (value_ == nullptr || !value_->is_number_integer()) return std::nullopt;
    if (value_->is_number_unsigned()) return value_->get<uint64_t>();
    const int64_t value = value_->get<int64_t>();
    if (value < 0) return std::nullopt;
    return static_cast<uint64_t>(value);
  }
  // The member `key` of an object; absent otherwise.
  NlohmannView operator[](const char* key) const {
    if (!is_object()) return NlohmannView();
    const auto it = value_->find(key);
    return it == value_->end() ? NlohmannView() : NlohmannView(&*it);
  }
  size_t size() const { return is_array() || is_object() ? value_->size() : 0; }
  // Calls f(NlohmannView) for each element of an array.
  template <typename F>
  void ForEachElement(F&& f) const {
    if (!is_array()) return;
    for (const nlohmann::json& element : *value_) f(NlohmannView(&element));
  }
  // Calls f(std::string_view key, NlohmannView) for each member of an object.
  template <typename F>
  void ForEachMember(F&& f) const {
    if (!is_object()) return;
    for (auto it = value_->begin(); it != value_->end(); ++it) {
      f(std::string_view(it.key()), NlohmannView(&it.value()));
    }
  }
  // Compact JSON text (invalid UTF-8 replaced).
  std::string Dump() const {
    return value_ == nullptr ? "" : value_->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  const nlohmann::json* value_ = nullptr;
};

class SimdView {
 public:
  SimdView() = default;
  explicit SimdView(simdjson::dom::element value) : value_(value), present_(true) {}

  bool present() const { return present_; }
  bool is_object() const { return present_ && value_.is_object(); }
  bool is_array() const { return present_ && value_.is_array(); }
  bool is_string() const { return present_ && value_.is_string(); }
  bool is_boolean() const { return present_ && value_.is_bool(); }
  bool is_null() const { return present_ && value_.is_null(); }
  std::string_view string() const {
    std::string_view text;
    if (!present_ || value_.get_string().get(text) != simdjson::SUCCESS) return "";
    return text;
  }
  bool boolean() const {
    bool flag = false;
    return present_ && value_.get_bool().get(flag) == simdjson::SUCCESS && flag;
  }
  std::optional<uint64_t> unsigned_integer() const {
    uint64_t value = 0;
    if (!present_ || !(value_.is_uint64() || value_.is_int64()) ||
        value_.get_uint64().get(value) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    return value;
  }
  SimdView operator[](const char* key) const {
    simdjson::dom::object object;
    if (!present_ || value_.get_object().get(object) != simdjson::SUCCESS) return SimdView();
    simdjson::dom::element member;
    if (object.at_key(key).get(member) != simdjson::SUCCESS) return SimdView();
    return SimdView(member);
  }
  size_t size() const {
    simdjson::dom::array array;
    if (present_ && value_.get_array().get(array) == simdjson::SUCCESS) return array.size();
    simdjson::dom::object object;
    if (present_ && value_.get_object().get(object) == simdjson::SUCCESS) return object.size();
    return 0;
  }
  template <typename F>
  void ForEachElement(F&& f) const {
    simdjson::dom::array array;
    if (!present_ || value_.get_array().get(array) != simdjson::SUCCESS) return;
    for (simdjson::dom::element element : array) f(SimdView(element));
  }
  template <typename F>
  void ForEachMember(F&& f) const {
    simdjson::dom::object object;
    if (!present_ || value_.get_object().get(object) != simdjson::SUCCESS) return;
    for (simdjson::dom::key_value_pair member : object) f(member.key, SimdView(member.value));
  }
  std::string Dump() const { return present_ ? simdjson::minify(value_) : ""; }
  // The element itself; only for a present view.
  simdjson::dom::element element() const { return value_; }

 private:
  simdjson::dom::element value_;
  bool present_ = false;
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_JSON_JSON_VIEW_H_
