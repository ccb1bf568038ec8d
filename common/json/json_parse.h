// Parsing JSON documents into nlohmann::json with simdjson: the same values
// nlohmann's own parser gives (non-negative integers unsigned, negative ones
// signed, other numbers double; for a repeated key the last one wins), several
// times faster on the large attestation statements the controller and the
// verifier read, because simdjson scans for structure with SIMD instead of
// one character at a time.
//
//   std::optional<nlohmann::json> document = ParseJson(text);
//   if (!document) return absl::InvalidArgumentError("not valid JSON");
//
// Thread-safe: one simdjson parser per thread.
#ifndef OFFBOARD_COMMON_JSON_JSON_PARSE_H_
#define OFFBOARD_COMMON_JSON_JSON_PARSE_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "common/json/json_view.h"

namespace offboard::common {

// nullopt for anything that is not one valid JSON document (UTF-8 checked).
std::optional<nlohmann::json> ParseJson(std::string_view text);

// The nlohmann tree of a value in a simdjson document; null for an absent view.
nlohmann::json ToNlohmann(const SimdView& value);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_JSON_JSON_PARSE_H_
