// Reconciling one contract from what the store holds: its inventory, the
// orders issued for it, the attestations accepted for those orders (their
// exact envelopes, read back and parsed), the refusals and the vendor
// officers' self-attestations. `status` prints it; the evidence export
// (issue 7) carries it.
#ifndef OFFBOARD_CONTROLLER_CLI_CONTRACT_RECONCILIATION_H_
#define OFFBOARD_CONTROLLER_CLI_CONTRACT_RECONCILIATION_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/reconcile/reconciler.h"
#include "common/reconcile/reconciliation.h"
#include "controller/store/store.h"

namespace offboard::controller {

// What the store holds for one contract besides its inventory.
struct ContractRecords {
  std::vector<OrderRow> orders;
  std::vector<AttestationRow> attestations;
  std::vector<RefusalRow> refusals;
  std::vector<SelfAttestationRow> self_attestations;
};
absl::StatusOr<ContractRecords> LoadContractRecords(ControllerStore& store,
                                                    const std::string& contract_id);

// A stored order as reconciliation and the order-recipient rule see it.
common::HostOrder HostOrderOf(const OrderRow& order, bool answered);

// The predicate of a stored in-toto envelope; DATA_LOSS naming `what` when
// it no longer parses (the store was altered).
absl::StatusOr<nlohmann::json> StoredPredicate(const std::string& envelope, absl::string_view what);

// NOT_FOUND when the contract has no inventory; DATA_LOSS when a stored
// envelope no longer parses (the store was altered).
absl::StatusOr<common::Reconciliation> ReconcileContract(ControllerStore& store,
                                                         const std::string& contract_id,
                                                         int64_t now);

// What a caller sees while a contract is reconciled, each when set.
struct ReconcileHooks {
  std::function<void(const InventoryFileRow&)> on_inventory_row = nullptr;
  // Each accepted attestation's predicate, parsed once, before reconciliation
  // takes it.
  std::function<absl::Status(const AttestationRow&, const nlohmann::json&)> on_attestation =
      nullptr;
  // The enrollments of the contract's vendors, read once, before
  // reconciliation decides which hosts hold no order: the package must list
  // exactly these.
  std::function<absl::Status(const std::vector<Enrollment>&)> on_enrollments = nullptr;
};

// The same from records loaded before (so that an evidence package holds
// exactly what its reconciliation was computed from).
absl::StatusOr<common::Reconciliation> ReconcileContract(ControllerStore& store,
                                                         const std::string& contract_id,
                                                         int64_t now,
                                                         const ContractRecords& records,
                                                         const ReconcileHooks& hooks = {});

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_CONTRACT_RECONCILIATION_H_
