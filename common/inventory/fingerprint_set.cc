// Fingerprint sets hold up to millions of digests, so the digests never
// become JSON values: a parser callback takes each element of "digests" as it
// is read, decodes it into a block of digests and drops it. Everything else
// is small and checked on the parsed object, as a whole, in a fixed order.
#include "common/inventory/fingerprint_set.h"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <iterator>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/encoding/hex.h"
#include "common/inventory/digest_blocks.h"
#include "common/inventory/identifier_regex.h"
#include "common/io/mapped_file.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

using inventory_internal::DigestBlocks;
using Digest = DigestBlocks::Digest;
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

// Pages of a mapped fingerprint file are dropped after every this many bytes.
constexpr size_t kReleaseBytes = size_t{8} << 20;

// Walks the text for nlohmann's parser, byte by byte, and drops the pages of
// a mapped file behind it.
class TextIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  // `file`, if not null, holds the text starting at `begin`.
  TextIterator(const char* at, const char* begin, MappedFile* file)
      : at_(at), begin_(begin), file_(file) {}

  reference operator*() const { return *at_; }
  TextIterator& operator++() {
    ++at_;
    if (--until_release_ == 0) {
      if (file_ != nullptr) file_->ReleaseBefore(static_cast<size_t>(at_ - begin_));
      until_release_ = kReleaseBytes;
    }
    return *this;
  }
  TextIterator operator++(int) {
    TextIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const TextIterator& other) const { return at_ == other.at_; }

 private:
  const char* at_;
  const char* begin_;
  MappedFile* file_;
  size_t until_release_ = kReleaseBytes;
};

// What the parser callback saw of the elements of the top-level "digests"
// array. Checking an element as it is read would report it before a JSON
// syntax error further on, or an error in another field; so the first bad
// element is remembered, and reported in turn.
struct DigestElements {
  // A scalar element (a string if well-formed).
  void Add(const Json& element) {
    const size_t index = count++;
    if (!error.empty()) return;
    if (!element.is_string()) return Fail(index, element.type_name());
    const std::string& hex = element.get_ref<const std::string&>();
    if (hex.size() != 64) {
      error_key = absl::StrCat("digests[", index, "]");
      error = absl::StrCat("expected 64 hex digits, got ", hex.size(), " characters");
      return;
    }
    absl::StatusOr<std::vector<uint8_t>> bytes = HexDecode(hex);
    if (!bytes.ok()) {
      error_key = absl::StrCat("digests[", index, "]");
      error = std::string(bytes.status().message());
      return;
    }
    Digest digest;
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    digests.Add(digest);
  }
  // An object or array element, which is never a digest.
  void AddContainer(const char* type_name) {
    const size_t index = count++;
    if (error.empty()) Fail(index, type_name);
  }

  void Fail(size_t index, const char* type_name) {
    error_key = absl::StrCat("digests[", index, "]");
    error = absl::StrCat("expected a string, got ", type_name);
  }

  size_t count = 0;
  std::string error_key;  // of the first bad element
  std::string error;      // empty while all elements were digests
  DigestBlocks digests;
};

// Parses the text in [first, last), rejecting a top-level key that appears
// twice: nlohmann would silently keep the last one, hiding an editing mistake.
// The elements of a top-level "digests" array go to `elements`, and the
// array in the result stays empty.
absl::StatusOr<Json> ParseObject(TextIterator first, TextIterator last,
                                 const ErrorReporter& reporter, DigestElements* elements) {
  using Event = Json::parse_event_t;
  std::set<std::string> keys;
  std::string repeated;
  std::string key;          // the last top-level key
  bool in_digests = false;  // inside the top-level "digests" array
  // Depth counts the containers around the event's value: 1 inside the
  // top-level object, 2 inside one of its arrays.
  const Json::parser_callback_t callback = [&](int depth, Event event, Json& parsed) {
    if (depth == 1 && event == Event::key) {
      key = parsed.get<std::string>();
      if (!keys.insert(key).second && repeated.empty()) repeated = key;
    } else if (depth == 1 && event == Event::array_start) {
      in_digests = key == "digests";
    } else if (depth == 1 && event == Event::array_end) {
      in_digests = false;
    } else if (depth == 2 && in_digests) {
      switch (event) {
        case Event::value:
          elements->Add(parsed);
          return false;  // drop it: the digest is in `elements`
        case Event::object_start:
          elements->AddContainer("object");
          return false;  // skip its contents
        case Event::array_start:
          elements->AddContainer("array");
          return false;
        default:
          break;
      }
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(first, last, callback);
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

// libstdc++'s std::regex reads the number of a back-reference or of a {m,n}
// repetition into a long without checking for overflow (undefined behaviour,
// found by fingerprint_set_fuzz), and the scanner's RE2 has no
// back-references at all. So, before std::regex sees the pattern: no
// backslash before a digit, and no repetition count above 1000. Empty when
// the pattern passes, otherwise what is wrong.
std::string RegexNumberProblem(absl::string_view pattern) {
  constexpr uint64_t kMaxRepetition = 1000;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      if (absl::ascii_isdigit(static_cast<unsigned char>(pattern[i + 1]))) {
        return absl::StrCat("back-references and octal escapes (\\", pattern.substr(i + 1, 1),
                            " at byte ", i, ") are not supported");
      }
      ++i;  // an escaped character, '{' included
      continue;
    }
    if (c != '{') continue;
    uint64_t value = 0;
    for (size_t j = i + 1; j < pattern.size() && pattern[j] != '}'; ++j) {
      if (pattern[j] == ',') {
        value = 0;
      } else if (absl::ascii_isdigit(static_cast<unsigned char>(pattern[j]))) {
        value = value * 10 + static_cast<uint64_t>(pattern[j] - '0');
        if (value > kMaxRepetition) {
          return absl::StrCat("a repetition count above ", kMaxRepetition, " at byte ", i);
        }
      } else {
        break;  // not a repetition: a literal '{'
      }
    }
  }
  return "";
}

absl::StatusOr<std::string> IdentifierRegex(const Json& object, const ErrorReporter& reporter) {
  OFFBOARD_ASSIGN_OR_RETURN(std::string pattern, NonEmptyString(object, "identifier", reporter));
  if (pattern.size() > kMaxIdentifierRegexBytes) {
    return reporter.FieldError("identifier", absl::StrCat("longer than ", kMaxIdentifierRegexBytes,
                                                          " bytes (", pattern.size(), ")"));
  }
  if (const std::string problem = RegexNumberProblem(pattern); !problem.empty()) {
    return reporter.FieldError("identifier", problem);
  }
  try {
    const std::regex compiled(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return reporter.FieldError("identifier",
                               absl::StrCat("not a valid ECMAScript regex: ", e.what()));
  }
  // Valid ECMAScript that the agents' scanner cannot run (lookaround) would
  // pass import and terminate, and then fail every wipe order.
  if (const auto scannable = CompileIdentifierRegex(pattern); !scannable.ok()) {
    return reporter.FieldError(
        "identifier", absl::StrCat("uses a feature the agent's scanner cannot run (lookaround, "
                                   "backreferences): ",
                                   scannable.status().message()));
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

absl::StatusOr<std::vector<Digest>> Digests(const Json& object, DigestElements& elements,
                                            const ErrorReporter& reporter) {
  const Json& list = object.at("digests");
  if (!list.is_array()) {
    return reporter.FieldError("digests",
                               absl::StrCat("expected an array, got ", list.type_name()));
  }
  if (elements.count == 0) {
    return reporter.FieldError("digests", "expected at least one digest");
  }
  if (!elements.error.empty()) return reporter.FieldError(elements.error_key, elements.error);
  return elements.digests.TakeSortedUnique();
}

absl::StatusOr<FingerprintSet> ParseChecked(TextIterator first, TextIterator last,
                                            const ErrorReporter& reporter) {
  DigestElements elements;
  OFFBOARD_ASSIGN_OR_RETURN(const Json object, ParseObject(first, last, reporter, &elements));
  OFFBOARD_RETURN_IF_ERROR(CheckKeys(object, reporter));
  FingerprintSet set;
  OFFBOARD_ASSIGN_OR_RETURN(set.dataset_id, NonEmptyString(object, "dataset_id", reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.hmac_key, HmacKey(object, reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.identifier_regex, IdentifierRegex(object, reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.min_matches, MinMatches(object, reporter));
  OFFBOARD_ASSIGN_OR_RETURN(set.digests, Digests(object, elements, reporter));
  if (set.min_matches > set.digests.size()) {
    return reporter.FieldError(
        "min_matches", absl::StrCat(set.min_matches, " exceeds the number of distinct digests (",
                                    set.digests.size(), "), so the set could never match"));
  }
  return set;
}

// Parses `text`, held by `file` if that is not null, with the checks above.
absl::StatusOr<FingerprintSet> Parse(std::string_view text, MappedFile* file,
                                     std::string_view source_name) {
  const ErrorReporter reporter(source_name);
  const char* const begin = text.data();
  // The checks above test types before every access; this is the edge where
  // anything nlohmann or the standard library still throws becomes a Status.
  try {
    return ParseChecked(TextIterator(begin, begin, file),
                        TextIterator(begin + text.size(), begin, file), reporter);
  } catch (const std::exception& e) {
    return reporter.Error(absl::StrCat("cannot read fingerprint set: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<FingerprintSet> ParseFingerprintSet(std::string_view json_text,
                                                   std::string_view source_name) {
  return Parse(json_text, nullptr, source_name);
}

absl::StatusOr<FingerprintSet> ReadFingerprintSet(const boost::filesystem::path& path) {
  OFFBOARD_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  const std::string source_name = path.string();
  return Parse(file.contents(), &file, source_name);
}

absl::StatusOr<std::vector<FingerprintSet>> ReadFingerprintSetsFor(
    absl::FunctionRef<bool(absl::string_view dataset_id)> is_inventory_dataset,
    absl::string_view inventory_name, const std::vector<std::string>& paths) {
  std::vector<FingerprintSet> sets;
  for (const std::string& path : paths) {
    OFFBOARD_ASSIGN_OR_RETURN(FingerprintSet set, ReadFingerprintSet(path));
    if (!is_inventory_dataset(set.dataset_id)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": field 'dataset_id': '",
                                                     set.dataset_id, "' is not a dataset of ",
                                                     inventory_name));
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

}  // namespace offboard::common
