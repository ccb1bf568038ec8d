// nlohmann::json trees from values of a simdjson document: the same values
// nlohmann's own parser gives (non-negative integers unsigned, negative ones
// signed, other numbers double; for a repeated key the last one wins), built
// without nlohmann's character-at-a-time lexer, for callers that parse with
// simdjson and still want a tree to keep.
//
//   nlohmann::json predicate = ToNlohmann(statement_view.predicate);
//
// Thread-safe: pure function.
#ifndef OFFBOARD_COMMON_JSON_JSON_TREE_H_
#define OFFBOARD_COMMON_JSON_JSON_TREE_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/json/json_view.h"

namespace offboard::common {

// The nlohmann tree of a value in a simdjson document; null for an absent view.
nlohmann::json ToNlohmann(const SimdView& value);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_JSON_JSON_TREE_H_
