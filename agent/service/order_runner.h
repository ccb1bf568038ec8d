// One wipe order, from the controller's signed envelope to an attestation in
// the outbox: verify the controller's signature and the expiry, check that
// the order is addressed to this agent and its vendor, build the search
// indexes from the order's datasets, scan, wipe, scan again and sign
// (agent/wipe/wipe_run.h), then save the report and queue the attestation.
//
//   DIR/orders/<order_id>/report.json   INTERFACE.md's wipe report
//   DIR/orders/<order_id>/done          "complete" or "incomplete": the order
//                                       is not run again
//   DIR/orders/<order_id>/plan.json     with approve_plan: the plan waiting for
//                                       a person (agent/service/plan_approval.h)
//
//   OrderRunner runner(options, outbox);
//   OrderResult result = runner.Run(signed_order, now_unix, heartbeat);
//
// An interrupted order resumes from the wipe journal when it is run again:
// the journal's request digest is the digest of the order envelope. Call from
// one thread.
#ifndef OFFBOARD_AGENT_SERVICE_ORDER_RUNNER_H_
#define OFFBOARD_AGENT_SERVICE_ORDER_RUNNER_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/scan/dataset_index.h"
#include "agent/scan/derived_matcher.h"
#include "agent/service/outbox.h"
#include "common/crypto/ed25519.h"
#include "offboard/v1/orders.pb.h"

namespace offboard::agent {

struct OrderRunnerOptions {
  boost::filesystem::path data_dir;
  std::string agent_id;  // this agent's identity from enrollment
  std::string vendor_id;
  common::Ed25519PublicKey controller_key;
  std::vector<std::string> roots;
  bool cross_filesystems = false;
  unsigned threads = 0;
  std::string agent_version;
  // `run --approve-plan`: nothing is wiped before a person approved the
  // exact plan (agent/service/plan_approval.h).
  bool approve_plan = false;
  // An attestation larger than this goes to the controller in parts; 0:
  // what one message may carry (kMaxEnvelopeBytes).
  size_t max_envelope_bytes = 0;
};

enum class OrderOutcome {
  kWipedComplete,     // every item wiped, nothing unexamined; attestation queued
  kWipedIncomplete,   // attested, but something failed, was left or not examined
  kRefused,           // forged, expired, malformed or not ours: nothing was touched
  kFailed,            // an error stopped the run (journal, disk, roots); retried next round
  kAwaitingApproval,  // approve_plan: the plan waits in plan.json; nothing was touched
};

struct OrderResult {
  std::string order_id;
  OrderOutcome outcome = OrderOutcome::kFailed;
  bool already_done = false;  // finished in an earlier round; nothing was run now
  std::string message;        // for people: a summary or the reason
};

using HeartbeatFunction = std::function<void(const offboard::v1::HeartbeatRequest&)>;

// The scanner's indexes for an order's datasets. INVALID_ARGUMENT naming the
// dataset and field for a bad digest or fingerprint set.
struct OrderIndexes {
  DatasetIndex datasets;
  FingerprintIndex fingerprints;
};
absl::StatusOr<OrderIndexes> BuildOrderIndexes(const offboard::v1::WipeOrder& order);

class OrderRunner {
 public:
  OrderRunner(OrderRunnerOptions options, Outbox& outbox)
      : options_(std::move(options)), outbox_(outbox) {}

  OrderResult Run(const offboard::v1::SignedWipeOrder& signed_order, int64_t now_unix,
                  const HeartbeatFunction& heartbeat);

  boost::filesystem::path OrderDir(const std::string& order_id) const {
    return options_.data_dir / "orders" / order_id;
  }

 private:
  OrderResult Refuse(const std::string& order_id, const std::string& reason);
  absl::StatusOr<OrderOutcome> Execute(const offboard::v1::WipeOrder& order,
                                       const std::string& envelope,
                                       const HeartbeatFunction& heartbeat, std::string& summary);

  OrderRunnerOptions options_;
  Outbox& outbox_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_ORDER_RUNNER_H_
