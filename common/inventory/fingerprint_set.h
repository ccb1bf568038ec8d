// Record fingerprints of one dataset, for finding derived copies (extracts,
// merged files) without shipping raw identifiers to the vendor.
//
// A fingerprint set is a JSON file per dataset (INTERFACE.md, "Inventory"):
//
//   {"dataset_id": "ds-7", "hmac_key": "<hex>", "identifier": "<regex>",
//    "min_matches": 3, "digests": ["<hex HMAC-SHA256 of an identifier>", ...]}
//
// A scanner finds `identifier` matches in a file, HMACs each with `hmac_key`,
// and reports a derived copy when at least `min_matches` distinct digests are
// in the set.
//
//   absl::StatusOr<FingerprintSet> set = ReadFingerprintSet("/srv/ds-7.json");
//
// A set of a million digests takes 32 MiB as a FingerprintSet; reading it
// takes little more, since the digests are decoded as they are parsed and the
// file is mapped and dropped behind the parser.
//
// Thread-safe: plain functions without shared state.
#ifndef OFFBOARD_COMMON_INVENTORY_FINGERPRINT_SET_H_
#define OFFBOARD_COMMON_INVENTORY_FINGERPRINT_SET_H_

#include <array>
#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

// Shorter HMAC keys would make the digests of short identifiers (account
// numbers, national ids) open to brute force by whoever holds the set.
inline constexpr size_t kMinFingerprintKeyBytes = 16;

// std::regex compiles recursively, so a huge pattern from a damaged or hostile
// file could exhaust the stack; real identifier patterns are short.
inline constexpr size_t kMaxIdentifierRegexBytes = 1024;

struct FingerprintSet {
  std::string dataset_id;
  std::vector<uint8_t> hmac_key;  // at least kMinFingerprintKeyBytes
  std::string identifier_regex;   // ECMAScript syntax; known to compile
  uint32_t min_matches = 0;       // >= 1 and <= digests.size()
  // HMAC-SHA256 digests, sorted ascending without duplicates, never empty.
  std::vector<std::array<uint8_t, 32>> digests;
};

// Parses and validates a fingerprint set held in memory. `source_name` only
// prefixes error messages. INVALID_ARGUMENT, as "<source>: field '<key>': ...",
// for malformed JSON (naming the byte position), a non-object, a missing,
// unknown or repeated key, a value of the wrong type, an empty dataset_id, an
// hmac_key that is not hex or shorter than kMinFingerprintKeyBytes, an
// identifier longer than kMaxIdentifierRegexBytes, with a back-reference or
// octal escape (a backslash before a digit) or a repetition count above 1000,
// or that std::regex (ECMAScript) rejects, a min_matches below 1 or above the
// number of distinct digests (such a set could never match), no
// digests, or a digest that is not 64 hex digits ("field 'digests[17]'").
// Hex may be in either case. With several problems, the first in this list is
// reported, wherever it is in the file.
absl::StatusOr<FingerprintSet> ParseFingerprintSet(std::string_view json_text,
                                                   std::string_view source_name);

// Reads `path` and parses it with `path` as source name. NOT_FOUND,
// PERMISSION_DENIED or INTERNAL, naming the path, when it cannot be read.
absl::StatusOr<FingerprintSet> ReadFingerprintSet(const boost::filesystem::path& path);

// Reads every file of `paths` and checks that each names a dataset of the
// inventory read from `inventory_name`: one for which `is_inventory_dataset`
// is true. INVALID_ARGUMENT naming the file and its field 'dataset_id'
// otherwise; the first error wins.
absl::StatusOr<std::vector<FingerprintSet>> ReadFingerprintSetsFor(
    absl::FunctionRef<bool(absl::string_view dataset_id)> is_inventory_dataset,
    absl::string_view inventory_name, const std::vector<std::string>& paths);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_INVENTORY_FINGERPRINT_SET_H_
