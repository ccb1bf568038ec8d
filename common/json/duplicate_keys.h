// Refusing JSON objects that give one key twice. RFC 8259 leaves the meaning
// of a repeated key to each parser: some take the first, some the last. A
// signed document read differently by two readers (the controller and a
// regulator's verifier, say) could reconcile differently, so documents whose
// meaning matters are refused when any object in them repeats a key.
//
//   OFFBOARD_RETURN_IF_ERROR(CheckNoDuplicateKeys(document, "in-toto statement"));
//   // INVALID_ARGUMENT "in-toto statement: key \"path\" appears twice in
//   //   predicate.items[3]"
//
// Thread-safe: pure function.
#ifndef OFFBOARD_COMMON_JSON_DUPLICATE_KEYS_H_
#define OFFBOARD_COMMON_JSON_DUPLICATE_KEYS_H_

#include <simdjson.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

// OK when no object anywhere in `value` repeats a key; otherwise
// INVALID_ARGUMENT prefixed by `what`, naming the key and where the object
// is (dotted members and [indexes]; "the top level" for the outermost).
absl::Status CheckNoDuplicateKeys(simdjson::dom::element value, absl::string_view what);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_JSON_DUPLICATE_KEYS_H_
