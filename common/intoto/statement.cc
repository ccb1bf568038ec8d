#include "common/intoto/statement.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"

namespace offboard::common {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("in-toto statement: field '", field, "': ", problem));
}

// Byte length of the digests whose encoding in-toto fixes as hex.
size_t KnownDigestLength(absl::string_view algorithm) {
  if (algorithm == "sha256") return 32;
  if (algorithm == "sha512") return 64;
  return 0;
}

absl::StatusOr<InTotoSubject> ParseSubject(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) return Invalid(where, "must be an object");
  InTotoSubject subject;
  if (const auto name = entry.find("name"); name != entry.end()) {
    if (!name->is_string()) return Invalid(where + ".name", "must be a string");
    subject.name = name->get<std::string>();
  }
  const auto digest = entry.find("digest");
  if (digest == entry.end() || !digest->is_object() || digest->empty()) {
    return Invalid(where + ".digest", "must be an object with at least one digest");
  }
  for (const auto& [algorithm, value] : digest->items()) {
    const std::string field = absl::StrCat(where, ".digest.", algorithm);
    if (!value.is_string()) return Invalid(field, "must be a string");
    const std::string hex = value.get<std::string>();
    if (const size_t length = KnownDigestLength(algorithm);
        length != 0 && !IsLowerHex(hex, length)) {
      return Invalid(field, absl::StrCat("expected ", 2 * length, " lowercase hex digits"));
    }
    subject.digest.emplace(algorithm, hex);
  }
  return subject;
}

}  // namespace

std::string SerializeStatement(const InTotoStatement& statement) {
  nlohmann::ordered_json document;
  document["_type"] = kStatementType;
  document["subject"] = nlohmann::ordered_json::array();
  for (const InTotoSubject& subject : statement.subjects) {
    nlohmann::ordered_json entry;
    entry["name"] = subject.name;
    entry["digest"] = subject.digest;
    document["subject"].push_back(std::move(entry));
  }
  document["predicateType"] = statement.predicate_type;
  document["predicate"] = statement.predicate;
  return document.dump();
}

absl::StatusOr<InTotoStatement> ParseStatement(absl::string_view json) {
  nlohmann::json document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return absl::InvalidArgumentError("in-toto statement: not valid JSON");
  }
  if (!document.is_object()) {
    return absl::InvalidArgumentError("in-toto statement: top level must be a JSON object");
  }
  const auto type = document.find("_type");
  if (type == document.end() || !type->is_string() || type->get<std::string>() != kStatementType) {
    return Invalid("_type", absl::StrCat("must be \"", kStatementType, "\""));
  }
  InTotoStatement statement;
  const auto subjects = document.find("subject");
  if (subjects == document.end() || !subjects->is_array() || subjects->empty()) {
    return Invalid("subject", "must be a non-empty array");
  }
  for (size_t i = 0; i < subjects->size(); ++i) {
    absl::StatusOr<InTotoSubject> subject =
        ParseSubject((*subjects)[i], absl::StrCat("subject[", i, "]"));
    if (!subject.ok()) return subject.status();
    statement.subjects.push_back(*std::move(subject));
  }
  const auto predicate_type = document.find("predicateType");
  if (predicate_type == document.end() || !predicate_type->is_string() ||
      predicate_type->get<std::string>().empty()) {
    return Invalid("predicateType", "must be a non-empty string");
  }
  statement.predicate_type = predicate_type->get<std::string>();
  if (const auto predicate = document.find("predicate"); predicate != document.end()) {
    if (!predicate->is_object()) return Invalid("predicate", "must be an object");
    statement.predicate = *predicate;
  }
  return statement;
}

}  // namespace offboard::common
