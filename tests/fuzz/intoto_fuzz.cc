// The in-toto Statement parsers: the tree reader (ParseStatement) and the
// in-place reader (ParseStatementView) apply the same checks, so they must
// accept the same inputs and read the same subjects; an accepted statement
// survives a round trip.
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
  OFFBOARD_FUZZ_CHECK(tree.ok() == view.ok(), "the two readers disagree: " + tree.status().ToString() +
                                                  " vs " + view.status().ToString());
  if (!tree.ok()) return 0;
  OFFBOARD_FUZZ_CHECK(SameSubjects(tree->subjects, view->subjects), "the readers read different subjects");
  OFFBOARD_FUZZ_CHECK(tree->predicate_type == view->predicate_type, "different predicate types");

  auto again = offboard::common::ParseStatement(offboard::common::SerializeStatement(*tree));
  OFFBOARD_FUZZ_CHECK(again.ok(), "re-serialized statement refused: " + again.status().ToString());
  OFFBOARD_FUZZ_CHECK(SameSubjects(again->subjects, tree->subjects), "subjects changed in a round trip");
  OFFBOARD_FUZZ_CHECK(again->predicate == tree->predicate, "predicate changed in a round trip");
  return 0;
}
