#include "controller/cli/contract_reconciliation.h"

#include <iterator>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/dsse/envelope.h"
#include "common/intoto/statement.h"
#include "common/reconcile/attestation_parts.h"
#include "common/reconcile/order_recipients.h"
#include "common/reconcile/reconciler.h"
#include "common/status/status_macros.h"

namespace offboard::controller {

common::HostOrder HostOrderOf(const OrderRow& order, bool answered) {
  return {.order_id = order.order_id,
          .host_id = order.host_id,
          .agent_id = order.agent_id,
          .expires_at = order.expires_at,
          .answered = answered,
          .vendor_id = order.vendor_id,
          .issued_at = order.issued_at};
}

absl::StatusOr<nlohmann::json> StoredPredicate(const std::string& envelope, absl::string_view what) {
  absl::StatusOr<common::DsseEnvelope> parsed = common::ParseDsseEnvelope(envelope);
  if (!parsed.ok()) return absl::DataLossError(absl::StrCat(what, ": ", parsed.status().message()));
  absl::StatusOr<common::InTotoStatement> statement = common::ParseStatement(parsed->payload);
  if (!statement.ok()) {
    return absl::DataLossError(absl::StrCat(what, ": ", statement.status().message()));
  }
  return std::move(statement->predicate);
}

absl::StatusOr<ContractRecords> LoadContractRecords(ControllerStore& store,
                                                    const std::string& contract_id) {
  ContractRecords records;
  OFFBOARD_ASSIGN_OR_RETURN(records.orders, store.OrdersForContract(contract_id));
  OFFBOARD_ASSIGN_OR_RETURN(records.attestations, store.AttestationsForContract(contract_id));
  OFFBOARD_ASSIGN_OR_RETURN(records.refusals, store.RefusalsForContract(contract_id));
  OFFBOARD_ASSIGN_OR_RETURN(records.self_attestations,
                            store.SelfAttestationsForContract(contract_id));
  return records;
}

absl::StatusOr<common::Reconciliation> ReconcileContract(ControllerStore& store,
                                                         const std::string& contract_id,
                                                         int64_t now) {
  OFFBOARD_ASSIGN_OR_RETURN(const ContractRecords records, LoadContractRecords(store, contract_id));
  return ReconcileContract(store, contract_id, now, records);
}

absl::StatusOr<common::Reconciliation> ReconcileContract(
    ControllerStore& store, const std::string& contract_id, int64_t now,
    const ContractRecords& records, const ReconcileHooks& hooks) {
  const std::vector<OrderRow>& orders = records.orders;
  const std::vector<AttestationRow>& attestations = records.attestations;
  const std::vector<SelfAttestationRow>& self_attestations = records.self_attestations;
  std::map<std::string, const OrderRow*> order_by_id;
  for (const OrderRow& order : orders) order_by_id[order.order_id] = &order;
  common::AnsweredOrders answered;
  for (const AttestationRow& row : attestations) {
    answered.Add(row.order_id, row.part.run_id, {.index = row.part.index, .count = row.part.count});
  }

  std::vector<common::HostOrder> host_orders;
  for (const OrderRow& order : orders) {
    host_orders.push_back(HostOrderOf(order, answered.Answered(order.order_id)));
  }
  common::Reconciler reconciler({.contract_id = contract_id,
                                 .now = now,
                                 .orders = host_orders,
                                 .refused_attestations = records.refusals.size()});
  uint64_t files = 0;
  std::set<std::string> vendors;
  OFFBOARD_RETURN_IF_ERROR(store.ForEachInventoryFile(contract_id, [&](const InventoryFileRow& row) {
    ++files;
    vendors.insert(row.vendor_id);
    if (hooks.on_inventory_row) hooks.on_inventory_row(row);
    return reconciler.AddExpectedFile({.vendor_id = row.vendor_id,
                                       .dataset_id = row.dataset_id,
                                       .path = row.path,
                                       .sha256 = row.sha256,
                                       .size = row.size});
  }));
  if (files == 0) return absl::NotFoundError(absl::StrCat("contract ", contract_id, ": no inventory"));
  // Every enrolled host must be asked: one enrolled after `terminate` holds
  // the verdict back until an order was issued to it and answered.
  std::vector<Enrollment> enrolled;
  for (const std::string& vendor : vendors) {
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<Enrollment> of_vendor, store.ListEnrollments(vendor));
    std::move(of_vendor.begin(), of_vendor.end(), std::back_inserter(enrolled));
  }
  if (hooks.on_enrollments) OFFBOARD_RETURN_IF_ERROR(hooks.on_enrollments(enrolled));
  reconciler.SetHostsWithoutOrder(common::HostsOf(common::AgentsWithoutOrder(
      common::SelectOrderRecipients(std::move(enrolled)).agents, host_orders)));
  for (const AttestationRow& row : attestations) {
    const auto order = order_by_id.find(row.order_id);
    OFFBOARD_ASSIGN_OR_RETURN(nlohmann::json predicate,
                              StoredPredicate(row.envelope, absl::StrCat("attestation ", row.log_index)));
    if (hooks.on_attestation) OFFBOARD_RETURN_IF_ERROR(hooks.on_attestation(row, predicate));
    OFFBOARD_RETURN_IF_ERROR(reconciler.AddAttestation(
        {.order_id = row.order_id,
         .agent_id = row.agent_id,
         .host_id = order != order_by_id.end() ? order->second->host_id : "",
         .vendor_id = order != order_by_id.end() ? order->second->vendor_id : "",
         .log_index = row.log_index,
         .predicate = std::move(predicate)}));
  }
  for (const SelfAttestationRow& row : self_attestations) {
    OFFBOARD_ASSIGN_OR_RETURN(nlohmann::json predicate,
                              StoredPredicate(row.envelope, "self-attestation"));
    OFFBOARD_RETURN_IF_ERROR(reconciler.AddSelfAttestation(
        {.officer_key_id = row.officer_key_id, .predicate = std::move(predicate)}));
  }
  return std::move(reconciler).Finish();
}

}  // namespace offboard::controller
