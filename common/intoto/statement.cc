#include "common/intoto/statement.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/encoding/hex.h"
#include "common/json/duplicate_keys.h"
#include "common/json/json_tree.h"
#include "common/status/status_macros.h"

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

// Subject `index` of the statement. The field names of its errors are only
// spelled out on an error: a statement has a subject per item, and the
// controller reads thousands of statements a second.
absl::StatusOr<InTotoSubject> ParseSubject(SimdView entry, size_t index) {
  const auto where = [index](absl::string_view field = "") {
    return absl::StrCat("subject[", index, "]", field);
  };
  if (!entry.is_object()) return Invalid(where(), "must be an object");
  InTotoSubject subject;
  if (const SimdView name = entry["name"]; name.present()) {
    if (!name.is_string()) return Invalid(where(".name"), "must be a string");
    subject.name = std::string(name.string());
  }
  const SimdView digest = entry["digest"];
  if (!digest.is_object() || digest.size() == 0) {
    return Invalid(where(".digest"), "must be an object with at least one digest");
  }
  absl::Status status = absl::OkStatus();
  digest.ForEachMember([&](std::string_view key, SimdView value) {
    if (!status.ok()) return;
    const absl::string_view algorithm(key.data(), key.size());
    if (!value.is_string()) {
      status = Invalid(where(absl::StrCat(".digest.", algorithm)), "must be a string");
      return;
    }
    const absl::string_view hex(value.string().data(), value.string().size());
    if (const size_t length = KnownDigestLength(algorithm);
        length != 0 && !IsLowerHex(hex, length)) {
      status = Invalid(where(absl::StrCat(".digest.", algorithm)),
                       absl::StrCat("expected ", 2 * length, " lowercase hex digits"));
      return;
    }
    // Each algorithm once: repeated keys were refused.
    subject.digest.emplace(std::string(algorithm), std::string(hex));
  });
  if (!status.ok()) return status;
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

absl::StatusOr<InTotoStatementView> ParseStatementView(std::string_view json,
                                                       simdjson::dom::parser& parser) {
  simdjson::dom::element parsed;
  if (parser.parse(json.data(), json.size()).get(parsed) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("in-toto statement: not valid JSON");
  }
  // A repeated key could be read one way here and another way by a verifier.
  OFFBOARD_RETURN_IF_ERROR(CheckNoDuplicateKeys(parsed, "in-toto statement"));
  const SimdView document(parsed);
  if (!document.is_object()) {
    return absl::InvalidArgumentError("in-toto statement: top level must be a JSON object");
  }
  if (document["_type"].string() != std::string_view(kStatementType.data(), kStatementType.size())) {
    return Invalid("_type", absl::StrCat("must be \"", kStatementType, "\""));
  }
  InTotoStatementView statement;
  const SimdView subjects = document["subject"];
  if (!subjects.is_array() || subjects.size() == 0) {
    return Invalid("subject", "must be a non-empty array");
  }
  absl::Status status = absl::OkStatus();
  size_t i = 0;
  subjects.ForEachElement([&](SimdView entry) {
    if (!status.ok()) return;
    absl::StatusOr<InTotoSubject> subject = ParseSubject(entry, i++);
    if (!subject.ok()) {
      status = subject.status();
      return;
    }
    statement.subjects.push_back(*std::move(subject));
  });
  if (!status.ok()) return status;
  const SimdView predicate_type = document["predicateType"];
  if (!predicate_type.is_string() || predicate_type.string().empty()) {
    return Invalid("predicateType", "must be a non-empty string");
  }
  statement.predicate_type = std::string(predicate_type.string());
  statement.predicate = document["predicate"];
  if (statement.predicate.present() && !statement.predicate.is_object()) {
    return Invalid("predicate", "must be an object");
  }
  return statement;
}

absl::StatusOr<InTotoStatement> ParseStatement(absl::string_view json) {
  thread_local simdjson::dom::parser parser;
  OFFBOARD_ASSIGN_OR_RETURN(InTotoStatementView view,
                            ParseStatementView(std::string_view(json.data(), json.size()), parser));
  InTotoStatement statement;
  statement.subjects = std::move(view.subjects);
  statement.predicate_type = std::move(view.predicate_type);
  if (view.predicate.present()) statement.predicate = ToNlohmann(view.predicate);
  return statement;
}

bool RunBeganBy(const SimdView& predicate, int64_t deadline) {
  const std::string_view started = predicate["started_at"].string();
  absl::Time time;
  std::string error;
  return !started.empty() &&
         absl::ParseTime(absl::RFC3339_full, absl::string_view(started.data(), started.size()),
                         &time, &error) &&
         absl::ToUnixSeconds(time) <= deadline;
}

}  // namespace offboard::common
