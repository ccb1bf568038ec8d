// The durable outbox of signed attestations: an attestation is written here
// before it is first sent and leaves only when the controller has answered
// with a receipt, so one made while the controller is down (or lost to a
// crash between signing and sending) is delivered later. The controller
// accepts each (order, agent, part) once and answers a resend with the same
// receipt, so delivering twice is harmless.
//
//   DIR/outbox/<entry>.dsse.json           waiting for delivery
//   DIR/outbox/refused/<entry>.dsse.json   refused by the controller (kept for people)
//   DIR/outbox/refused/<entry>.reason.txt  the controller's reason
//   DIR/receipts/<entry>.json              the receipt (proto3 JSON)
//
// An entry is an order's attestation, named by the order id, or one part of
// an attestation too large for one message (common/reconcile/
// attestation_parts.h), named "<order_id>+part-00002-of-00005": '+' is no
// character of an order id, so the two never meet. An order is delivered
// when it has a receipt for each of its entries.
//
//   Outbox outbox(data_dir);
//   OFFBOARD_RETURN_IF_ERROR(outbox.Put(order_id, {envelope}));
//   DeliveryReport report = DeliverOutbox(outbox, submit, controller_key, stop_requested);
//
// Every write is atomic and durable (common/io/write_file.h). Not
// thread-safe; one agent process per data directory.
#ifndef OFFBOARD_AGENT_SERVICE_OUTBOX_H_
#define OFFBOARD_AGENT_SERVICE_OUTBOX_H_

#include <boost/filesystem/path.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ed25519.h"
#include "offboard/v1/attestation.pb.h"

namespace offboard::agent {

// Order ids name files: 1..128 characters of [A-Za-z0-9._-], not starting with '.'.
bool IsSafeOrderId(absl::string_view order_id);

// The entry of part `index` of `count` of the order's attestation.
std::string PartEntry(absl::string_view order_id, uint32_t index, uint32_t count);
// The order an entry belongs to; "" when `entry` names none.
std::string OrderOfEntry(absl::string_view entry);

class Outbox {
 public:
  explicit Outbox(const boost::filesystem::path& data_dir);

  // Queues the order's attestation: one envelope, or its parts in order
  // (each an entry of its own). Replaces what the order queued before.
  // INVALID_ARGUMENT for an unsafe order id or no envelope; write errors
  // name the path.
  absl::Status Put(const std::string& order_id, const std::vector<std::string>& envelopes);

  // Entries waiting for delivery, sorted: an order's parts in part order.
  // Errors name the directory.
  absl::StatusOr<std::vector<std::string>> Pending() const;
  absl::StatusOr<std::string> Read(const std::string& entry) const;

  // Saves the receipt, then removes the entry: a crash in between leaves
  // both, and the resend gets the same receipt.
  absl::Status Delivered(const std::string& entry, const offboard::v1::Receipt& receipt);
  // Moves the entry to refused/ with `reason` beside it.
  absl::Status Refused(const std::string& entry, absl::string_view reason);

  // A receipt for the order's attestation, or for every one of its parts.
  bool HasReceipt(const std::string& order_id) const;
  // The refused entry of the order (itself or one of its parts), if any.
  std::optional<boost::filesystem::path> Refusal(const std::string& order_id) const;
  bool WasRefused(const std::string& order_id) const { return Refusal(order_id).has_value(); }

  boost::filesystem::path EntryPath(const std::string& entry) const;
  boost::filesystem::path ReceiptPath(const std::string& entry) const;
  boost::filesystem::path RefusedPath(const std::string& entry) const;

 private:
  boost::filesystem::path dir_;
  boost::filesystem::path refused_dir_;
  boost::filesystem::path receipts_dir_;
};

using SubmitFunction = std::function<absl::StatusOr<offboard::v1::Receipt>(
    const std::string& order_id, const std::string& envelope)>;

struct DeliveryReport {
  std::vector<std::string> delivered;                        // entries
  std::vector<std::pair<std::string, std::string>> refused;  // entry, reason
  size_t pending = 0;                                        // still in the outbox afterwards
  absl::Status transient;  // the error that stopped delivery early, if any
  absl::Status local;      // an error of the outbox itself, if any
};

// Submits every pending entry in order. A receipt counts only when it
// verifies against `controller_key` for the envelope sent (signed tree head,
// leaf hash, inclusion proof); one that does not is reported as a transient
// UNAVAILABLE and the entry stays for a resend. A transient error
// (IsTransient) stops the pass: the controller is unreachable, so the rest
// would fail too. Any other error is a refusal: the entry moves to refused/.
// Stops early when `stop_requested` returns true.
DeliveryReport DeliverOutbox(Outbox& outbox, const SubmitFunction& submit,
                             const common::Ed25519PublicKey& controller_key,
                             const std::function<bool()>& stop_requested);

// Exponential backoff with jitter: each delay is drawn from [d/2, d] where d
// starts at `initial` and doubles up to `cap`. Reset() after a success.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap);
  std::chrono::milliseconds Next();
  void Reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds current_;
  std::minstd_rand random_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_OUTBOX_H_
