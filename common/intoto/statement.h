// in-toto Statement v1: the payload of every deletion attestation.
//
// A Statement names its subjects (here: each deleted file or archive member
// with its sha256) and carries a typed predicate (here: Offboard's deletion
// predicate with order, nonce, policy, per-item method and assurance). It is
// JSON, wrapped in a DSSE envelope with payloadType kInTotoPayloadType.
//
//   InTotoStatement statement{.subjects = {{"data/a.csv", {{"sha256", hex}}}},
//                             .predicate_type = kDeletionPredicateType,
//                             .predicate = predicate_json};
//   std::string payload = SerializeStatement(statement);
//
// Plain data and pure functions: thread-safe.
#ifndef OFFBOARD_COMMON_INTOTO_STATEMENT_H_
#define OFFBOARD_COMMON_INTOTO_STATEMENT_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/json/json_view.h"

namespace offboard::common {

inline constexpr absl::string_view kStatementType = "https://in-toto.io/Statement/v1";
// Offboard's predicate for a deletion attestation (agent wipes) and for a
// vendor officer's self-attestation (places no agent can reach).
inline constexpr absl::string_view kDeletionPredicateType =
    "https://offboard.dev/attestation/deletion/v1";
inline constexpr absl::string_view kSelfAttestationPredicateType =
    "https://offboard.dev/attestation/self-attested-deletion/v1";

struct InTotoSubject {
  std::string name;
  std::map<std::string, std::string> digest;  // algorithm -> lowercase hex
};

struct InTotoStatement {
  std::vector<InTotoSubject> subjects;
  std::string predicate_type;
  nlohmann::json predicate = nlohmann::json::object();
};

// Compact JSON: "_type", "subject", "predicateType", "predicate".
std::string SerializeStatement(const InTotoStatement& statement);

// Parses and validates: "_type" must be Statement v1; at least one subject;
// each subject has a digest with at least one algorithm, and sha256/sha512
// digests are lowercase hex of the right length; predicateType is a non-empty
// string; predicate, if present, is an object. Unrecognised fields are ignored
// as the in-toto specification asks. INVALID_ARGUMENT naming the field.
absl::StatusOr<InTotoStatement> ParseStatement(absl::string_view json);

// The same checks, with the predicate left in the simdjson document (no tree
// is built for it): for readers of many large statements. `parser` holds the
// document and must outlive the view and not parse anything else meanwhile.
struct InTotoStatementView {
  std::vector<InTotoSubject> subjects;
  std::string predicate_type;
  SimdView predicate;  // absent when the statement has none
};
absl::StatusOr<InTotoStatementView> ParseStatementView(std::string_view json,
                                                       simdjson::dom::parser& parser);

// Whether the run a deletion predicate attests began by `deadline` (Unix
// seconds): its "started_at" (RFC 3339) is there, parses and is not later.
// The controller accepts an attestation after its order expired only for
// such a run (the agent crashed and resumed), and offboard-verify holds
// every package to the same rule.
bool RunBeganBy(const SimdView& predicate, int64_t deadline);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_INTOTO_STATEMENT_H_
