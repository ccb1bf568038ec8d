// An attestation too large for one message to the controller travels as
// several parts. Each part is a whole DSSE envelope signed by the agent: the
// run's facts (run id, order id and nonce, times, host, policy), its share of
// the items and of the post-wipe scan's errors, and in its predicate
//   "part": {"index": i, "count": n}        1 <= i <= n, 1-based
// An attestation without "part" is the one and only part of its order.
//
// An order is answered once every part of one run has been accepted: parts 1
// to n, all of the same count and run id. Parts that disagree (two runs, two
// counts) never answer it.
//
//   OFFBOARD_ASSIGN_OR_RETURN(AttestationPart part, PartOf(SimdView(predicate)));
//   AnsweredOrders answered;
//   answered.Add(order_id, run_id, part);
//   if (answered.Answered(order_id)) ...
//
// Thread-compatible.
#ifndef OFFBOARD_COMMON_RECONCILE_ATTESTATION_PARTS_H_
#define OFFBOARD_COMMON_RECONCILE_ATTESTATION_PARTS_H_

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

// More parts than this is refused: at 16 MiB a part, 64 GiB, some 50
// million items of one host; more is a fault, not a host.
inline constexpr uint32_t kMaxAttestationParts = 4096;

struct AttestationPart {
  uint32_t index = 1;
  uint32_t count = 1;
  auto operator<=>(const AttestationPart&) const = default;
};

// The predicate's "part"; {1, 1} when it has none. INVALID_ARGUMENT when it
// is not an object of two integers with 1 <= index <= count <=
// kMaxAttestationParts. `View` is a view of common/json/json_view.h.
template <typename View>
absl::StatusOr<AttestationPart> PartOf(const View& predicate) {
  const View part = predicate["part"];
  if (!part.present()) return AttestationPart{};
  const auto index = part["index"].unsigned_integer();
  const auto count = part["count"].unsigned_integer();
  if (!part.is_object() || !index || !count || *index < 1 || *index > *count ||
      *count > kMaxAttestationParts) {
    std::string shown = part.Dump();
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    return absl::InvalidArgumentError(absl::StrCat(
        "predicate \"part\": ", shown,
        " is not {\"index\": i, \"count\": n} with 1 <= i <= n <= ", kMaxAttestationParts));
  }
  return AttestationPart{.index = static_cast<uint32_t>(*index),
                         .count = static_cast<uint32_t>(*count)};
}

// Which orders every part of an attestation has answered.
class AnsweredOrders {
 public:
  // One accepted part of the attestation of `order_id` by run `run_id`.
  // Adding the same part twice counts it once.
  void Add(absl::string_view order_id, absl::string_view run_id, AttestationPart part);

  // Every part 1..n of one run and one count was added.
  bool Answered(absl::string_view order_id) const;

 private:
  struct Received {
    std::string run_id;
    uint32_t count = 0;
    uint32_t distinct = 0;
    std::vector<bool> seen;  // by index - 1; empty while count is 1
    bool mixed = false;      // parts of two runs or two counts
  };
  absl::flat_hash_map<std::string, Received> orders_;
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RECONCILE_ATTESTATION_PARTS_H_
