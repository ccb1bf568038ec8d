// The in-toto Statement parsers: the tree reader (ParseStatement, the
// in-place reader plus a conversion to nlohmann) and the in-place reader
// (ParseStatementView) must accept the same inputs and read the same subjects;
// an accepted statement survives a round trip through SerializeStatement, and
// its predicate is the tree nlohmann's own parser reads from the input.
#include <simdjson.h>

#include "common/intoto/statement.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

bool SameSubjects(const std::vector<offboard::common::InTotoSubject>& a,
                  const std::vector<offboard::common::InTotoSubject>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].digest != b[i].digest) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = offboard::fuzz::AsText(data, size);
  auto tree = offboard::common::ParseStatement(absl::string_view(text.data(), text.size()));
  simdjson::dom::parser parser;
  auto view = offboard::common::ParseStatementView(text, parser);
  OFFBOARD_FUZZ_CHECK(
      tree.ok() == view.ok(),
      "the two readers disagree: " + tree.status().ToString() + " vs " + view.status().ToString());
  if (!tree.ok()) return 0;
  OFFBOARD_FUZZ_CHECK(SameSubjects(tree->subjects, view->subjects),
                      "the readers read different subjects");
  OFFBOARD_FUZZ_CHECK(tree->predicate_type == view->predicate_type, "different predicate types");

  // An independent reader: nlohmann's parser (repeated keys were refused, so
  // there is only one meaning to agree on).
  const nlohmann::json independent =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!independent.is_discarded() && independent.contains("predicate")) {
    OFFBOARD_FUZZ_CHECK(independent["predicate"] == tree->predicate,
                        "the predicate differs from what nlohmann reads");
  }

  auto again = offboard::common::ParseStatement(offboard::common::SerializeStatement(*tree));
  OFFBOARD_FUZZ_CHECK(again.ok(), "re-serialized statement refused: " + again.status().ToString());
  OFFBOARD_FUZZ_CHECK(SameSubjects(again->subjects, tree->subjects),
                      "subjects changed in a round trip");
  OFFBOARD_FUZZ_CHECK(again->predicate == tree->predicate, "predicate changed in a round trip");
  return 0;
}
