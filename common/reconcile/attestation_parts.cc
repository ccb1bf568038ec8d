#include "common/reconcile/attestation_parts.h"

namespace offboard::common {

void AnsweredOrders::Add(absl::string_view order_id, absl::string_view run_id,
                         AttestationPart part) {
  const auto [it, inserted] = orders_.try_emplace(order_id);
  Received& received = it->second;
  if (inserted) {
    received.run_id = std::string(run_id);
    received.count = part.count;
    if (part.count > 1) received.seen.assign(part.count, false);
  } else if (received.run_id != run_id || received.count != part.count) {
    received.mixed = true;
    return;
  }
  if (part.index < 1 || part.index > part.count) return;  // PartOf never gives one
  if (part.count == 1) {
    received.distinct = 1;
    return;
  }
  if (!received.seen[part.index - 1]) {
    received.seen[part.index - 1] = true;
    ++received.distinct;
  }
}

bool AnsweredOrders::Answered(absl::string_view order_id) const {
  const auto it = orders_.find(order_id);
  return it != orders_.end() && !it->second.mixed && it->second.distinct == it->second.count;
}

}  // namespace offboard::common
