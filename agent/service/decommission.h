// Decommissioning the agent (`offboard-agent decommission`): after its
// contract's final receipt the agent tells the controller, which bans its
// identity, and then destroys its private keys, so that this host can never
// act as the bank's agent again (the regulation asks that systems go offline
// when a cooperation ends).
//
// Steps, each only once the one before succeeded:
//   1. unless forced: every order the agent took has a receipt, the outbox is
//      empty, and no wipe is running or unfinished (the journal's lock is held
//      to the end, so `run` cannot start a wipe meanwhile);
//   2. both key files are opened below DIR (never through a symlink);
//   3. the controller answers Decommission: it has banned the caller;
//   4. DIR/decommission-pending.json, so that a crash from here on is finished
//      by running the command again (the TLS key may be gone by then);
//   5. the attestation key and the TLS key are destroyed as the wipe engine
//      destroys a file (agent/wipe/file_destroyer.h): a random pass read back
//      from the medium, fdatasync, truncate, unlink, fsync of DIR;
//   6. DIR/decommissioned.json, then the pending file is removed.
// Nothing is destroyed unless the controller answered, and nothing outside
// DIR is ever touched.
//
//   OFFBOARD_ASSIGN_OR_RETURN(DecommissionReport report,
//       DecommissionAgent({.data_dir = dir}, [&](const Enrollment& enrollment) {
//         return client.Decommission(enrollment.agent_id);
//       }));
//
// One process per data directory.
#ifndef OFFBOARD_AGENT_SERVICE_DECOMMISSION_H_
#define OFFBOARD_AGENT_SERVICE_DECOMMISSION_H_

#include <boost/filesystem/path.hpp>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/service/enrollment.h"
#include "offboard/v1/orders.pb.h"

namespace offboard::agent {

struct DecommissionOptions {
  boost::filesystem::path data_dir;
  bool force = false;  // go ahead although orders or attestations are outstanding
};

// Asks the controller to ban the enrolled agent (ControllerClient::Decommission).
using DecommissionCall =
    std::function<absl::StatusOr<offboard::v1::DecommissionResponse>(const Enrollment& enrollment)>;

struct DecommissionReport {
  std::string agent_id;
  std::string vendor_id;
  std::string host_id;
  std::string controller;                // HOST:PORT
  std::string banned_at_controller;      // RFC 3339, as the controller answered
  std::string decommissioned_at;         // RFC 3339
  bool already_banned = false;           // the controller had banned it before
  bool resumed = false;                  // finished a decommissioning a crash interrupted
  std::vector<std::string> destroyed;    // key files destroyed now
  std::vector<std::string> absent;       // key files that were gone already
  std::vector<std::string> forced_past;  // what --force went ahead despite
  boost::filesystem::path record;        // DIR/decommissioned.json
};

// What stands in the way of decommissioning `data_dir`, one sentence each:
// orders without a receipt (a plan awaiting approval, a wipe not finished, an
// attestation not delivered or refused), attestations waiting in the outbox,
// an unfinished wipe in the journal (`journal_records` > 0). Empty when
// nothing does. Errors: reading the directories.
absl::StatusOr<std::vector<std::string>> DecommissionBlockers(
    const boost::filesystem::path& data_dir, size_t journal_records);

// Runs the steps above. Errors (each says what was and was not done):
// FAILED_PRECONDITION when the directory is not enrolled, was decommissioned,
// a wipe holds it, or (without `force`) something blocks; a key file that
// cannot be opened safely (a symlink, not a regular file) as its
// PERMISSION_DENIED / FAILED_PRECONDITION; the controller's error as `call`
// returned it (UNAVAILABLE when unreachable) with nothing destroyed; after
// the controller's answer, the errors of destroying a key or writing the
// record, leaving the pending file for the next attempt.
absl::StatusOr<DecommissionReport> DecommissionAgent(const DecommissionOptions& options,
                                                     const DecommissionCall& call);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_DECOMMISSION_H_
