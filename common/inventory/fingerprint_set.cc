#include "common/inventory/fingerprint_set.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/encoding/hex.h"
#include "common/io/read_file.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

using Json = nlohmann::json;

constexpr std::array<const char*, 5> kKeys = {"dataset_id", "hmac_key", "identifier", "min_matches",
                                              "digests"};

// Builds "<source>: field '<key>': <message>" errors for one input.
class ErrorReporter {
 public:
  // Debian's abseil has its own absl::string_view, distinct from
  // std::string_view, hence the conversion here and the types below.
  explicit ErrorReporter(std::string_view source_name)
      : source_(source_name.data(), source_name.size()) {}

  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", message));
  }
  absl::Status FieldError(absl::string_view key, absl::string_view message) const {
    return Error(absl::StrCat("field '", key, "': ", message));
  }

 private:
  absl::string_view source_;
};

std::string QuotedList(const std::vector<std::string>& names) {
  return absl::StrCat("'", absl::StrJoin(names, "', '"), "'");
}

// Parses `text`, rejecting a top-level key that appears twice: nlohmann would
// silently keep the last one, hiding an editing mistake.
absl::StatusOr<Json> ParseObject(std::string_view text, const ErrorReporter& reporter) {
  std::set<std::string> keys;
  std::string repeated;
  const Json::parser_callback_t track_keys = [&](int depth, Json::parse_event_t event,
                                                 Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && repeated.empty()) {
      if (!keys.insert(parsed.get<std::string>()).second) repeated = parsed.get<std::string>();
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(text.begin(), text.end(), track_keys);
  } catch (const Json::parse_error& e) {
    // e.what() starts with "[json.exception.parse_error.101] "; drop that.
    absl::string_view what = e.what();
    if (const size_t bracket = what.find("] "); bracket != what.npos) {
      what.remove_prefix(bracket + 2);
    }
    return reporter.Error(absl::StrCat("malformed JSON at byte ", e.byte, ": ", what));
  }
  if (!json.is_object()) {
    return reporter.Error(absl::StrCat("expected a JSON object, got ", json.type_name()));
  }
  if (!repeated.empty()) {
    return reporter.Error(absl::StrCat("duplicate key '", repeated, "'"));
  }
  return json;
}

absl::Status CheckKeys(const Json& object, const ErrorReporter& reporter) {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : object.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      unknown.push_back(key);
    }
  }
  if (!unknown.empty()) {
    return reporter.Error(absl::StrCat(unknown.size() == 1 ? "unknown key " : "unknown keys ",
                                       QuotedList(unknown), "; expected only ",
                                       absl::StrJoin(kKeys, ", ")));
  }
  std::vector<std::string> missing;
  for (const char* key : kKeys) {
    if (!object.contains(key)) missing.emplace_back(key);
  }
  if (!missing.empty()) {
    return reporter.Error(
        absl::StrCat(missing.size() == 1 ? "missing key " : "missing keys ", QuotedList(missing)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NonEmptyString(const Json& object, const char* key,
                                           const ErrorReporter& reporter) {
  const Json& value = object.at(key);
  if (!value.is_string()) {
    return reporter.FieldError(key, absl::StrCat("expected a string, got ", value.type_name()));
  }
  std::string text = value.get<std::string>();
  if (text.empty()) return reporter.FieldError(key, "must not be empty");
  return text;
}

absl::StatusOr<std::vector<uint8_t>> HmacKey(const Json& object, const ErrorReporter& reporter) {
  OFFBOARD_ASSIGN_OR_RETURN(const std::string hex, NonEmptyString(object, "hmac_key", reporter));
  absl::StatusOr<std::vector<uint8_t>> key = HexDecode(hex);
  if (!key.ok()) return reporter.FieldError("hmac_key", key.status().message());
  if (key->size() < kMinFingerprintKeyBytes) {
    return reporter.FieldError(
        "hmac_key",
        absl::StrCat("expected at least ", kMinFingerprintKeyBytes, " bytes (",
                     2 * kMinFingerprintKeyBytes, " hex digits), got ", key->size(), " bytes"));
  }
  return key;
}

absl::StatusOr<std::string> IdentifierRegex(const Json& object, const ErrorReporter& reporter) {
  OFFBOARD_ASSIGN_OR_RETURN(std::string pattern, NonEmptyString(object, "identifier", reporter));
  if (pattern.size() > kMaxIdentifierRegexBytes) {
    return reporter.FieldError("identifier", absl::StrCat("longer than ", kMaxIdentifierRegexBytes,
                                                          " bytes (", pattern.size(), ")"));
  }
  try {
    const std::regex compiled(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return reporter.FieldError("identifier",
                               absl::StrCat("not a valid ECMAScript regex: ", e.what()));
  }
  return pattern;
}

absl::StatusOr<uint32_t> MinMatches(const Json& object, const ErrorReporter& reporter) {
  const Json& value = object.at("min_matches");
  constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
  if (!value.is_number_unsigned() || value.get<uint64_t>() == 0 || value.get<uint64_t>() > kMax) {
    return reporter.FieldError(
        "min_matches",
        absl::StrCat("expected a positive integer of at most ", kMax, ", got ", value.dump()));
  }
  return static_cast<uint32_t>(value.get<uint64_t>());
}

absl::StatusOr<std::vector<std::array<uint8_t, 32>>> Digests(const Json& object,
                                                             const ErrorReporter& reporter) {
  const Json& list = object.at("digests");
  if (!list.is_array()) {
    return reporter.FieldError("digests",
                               absl::StrCat("expected an array, got ", list.type_name()));
  }
  if (list.empty()) {
    return reporter.FieldError("digests", "expected at least one digest");
  }
  std::vector<std::array<uint8_t, 32>> digests;
  digests.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string key = absl::StrCat("digests[", i, "]");
    const Json& item = list[i];
    if (!item.is_string()) {
      return reporter.FieldError(key, absl::StrCat("expected a string, got ", item.type_name()));
    }
    const std::string& hex = item.get_ref<const std::string&>();
    if (hex.size() != 64) {
      return reporter.FieldError(
          key, absl::StrCat("expected 64 hex digits, got ", hex.size(), " characters"));
    }
    absl::StatusOr<std::vector<uint8_t>> bytes = HexDecode(hex);
    if (!bytes.ok()) return reporter.FieldError(key, bytes.status().message());
    std::copy(bytes->begin(), bytes->end(), digests.emplace_back().begin());
  }
  // Sorted for binary search; a repeated digest is harmless (a set exported
  // from raw records repeats identifiers) but must not count twice.
  std::sort(digests.begin(), digests.end());
  digests.erase(std::unique(digests.begin(), digests.end()), digests.end());
  return digests;
}

absl::StatusOr<FingerprintSet> ParseChecked(std::string_view json_text,
                                            const ErrorReporter& reporter) {
  OFFBOARD_ASSIGN_OR_RETURN(const Json object, ParseObject(json_text, reporter));
  OFFBOARD_RETURN_IF_ERROR(CheckKeys(object, reporter));
  FingerprintSet set;
  OFFBOARD_ASSIGN_OR_RETURN(set.dataset_id, NonEmptyString(object, "dataset_id", reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.hmac_key, HmacKey(object, reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.identifier_regex, IdentifierRegex(object, reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.min_matches, MinMatches(object, reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.digests, Digests(object, reporter));
  if (set.min_matches > set.digests.size()) {
    return reporter.FieldError(
        "min_matches", absl::StrCat(set.min_matches, " exceeds the number of distinct digests (",
                                    set.digests.size(), "), so the set could never match"));
  }
  return set;
}

}  // namespace

absl::StatusOr<FingerprintSet> ParseFingerprintSet(std::string_view json_text,
                                                   std::string_view source_name) {
  const ErrorReporter reporter(source_name);
  // The checks above test types before every access; this is the edge where
  // anything nlohmann or the standard library still throws becomes a Status.
  try {
    return ParseChecked(json_text, reporter);
  } catch (const std::exception& e) {
    return reporter.Error(absl::StrCat("cannot read fingerprint set: ", e.what()));
  }
}

absl::StatusOr<FingerprintSet> ReadFingerprintSet(const boost::filesystem::path& path) {
  OFFBOARD_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  return ParseFingerprintSet(text, path.string());
}

absl::StatusOr<std::vector<FingerprintSet>> ReadFingerprintSetsFor(
    const Inventory& inventory, absl::string_view inventory_name,
    const std::vector<std::string>& paths) {
  absl::flat_hash_set<absl::string_view> datasets;
  for (const InventoryRecord& record : inventory.records) datasets.insert(record.dataset_id);
  std::vector<FingerprintSet> sets;
  for (const std::string& path : paths) {
    OFFBOARD_ASSIGN_OR_RETURN(FingerprintSet set, ReadFingerprintSet(path));
    if (!datasets.contains(set.dataset_id)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": field 'dataset_id': '",
                                                     set.dataset_id, "' is not a dataset of ",
                                                     inventory_name));
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

}  // namespace offboard::common
