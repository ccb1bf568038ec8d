// Reconciling one contract from what the store holds: its inventory, the
// orders issued for it, the attestations accepted for those orders (their
// exact envelopes, read back and parsed), the refusals and the vendor
// officers' self-attestations. `status` prints it; the evidence export
// (issue 7) carries it.
#ifndef OFFBOARD_CONTROLLER_CLI_CONTRACT_RECONCILIATION_H_
#define OFFBOARD_CONTROLLER_CLI_CONTRACT_RECONCILIATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/reconcile/reconciliation.h"
#include "controller/store/store.h"

namespace offboard::controller {

// NOT_FOUND when the contract has no inventory; DATA_LOSS when a stored
// envelope no longer parses (the store was altered).
absl::StatusOr<common::Reconciliation> ReconcileContract(ControllerStore& store,
                                                 const std::string& contract_id, int64_t now);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_CONTRACT_RECONCILIATION_H_
