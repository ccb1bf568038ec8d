#include "agent/scan/finding.h"

namespace offboard::agent {

const char* MatchKindName(MatchKind kind) {
  switch (kind) {
    case MatchKind::kExact:
      return "exact";
    case MatchKind::kArchive:
      return "archive";
    case MatchKind::kDerived:
      return "derived";
    case MatchKind::kTag:
      return "tag";
  }
  return "unknown";
}

}  // namespace offboard::agent
