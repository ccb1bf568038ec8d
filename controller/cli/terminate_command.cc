#include "controller/cli/terminate_command.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/random.h"
#include "common/encoding/hex.h"
#include "common/inventory/fingerprint_set.h"
#include "common/log/audit.h"
#include "common/policy/wipe_policy.h"
#include "common/reconcile/order_recipients.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"
#include "controller/cli/contract_reconciliation.h"
#include "controller/cli/controller_home.h"
#include "controller/service/controller_services.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller terminate";

struct TerminateOptions {
  std::string data_dir;
  std::string contract;
  std::string policy;
  std::string deadline = "7d";
};

// "7d" / "36h" from now, or an RFC 3339 time.
absl::StatusOr<int64_t> ParseDeadline(absl::string_view text, int64_t now) {
  int64_t value = 0;
  if (text.size() >= 2 && (text.back() == 'd' || text.back() == 'h') &&
      absl::SimpleAtoi(text.substr(0, text.size() - 1), &value) && value > 0 && value < 100000) {
    return now + value * (text.back() == 'd' ? 86400 : 3600);
  }
  google::protobuf::Timestamp timestamp;
  if (google::protobuf::util::TimeUtil::FromString(std::string(text), &timestamp) &&
      timestamp.seconds() > now) {
    return timestamp.seconds();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--deadline '", text, "': expected a duration like 7d or 36h, or a future RFC 3339 time"));
}

offboard::v1::FingerprintSet ToProto(const common::FingerprintSet& set) {
  offboard::v1::FingerprintSet out;
  out.set_hmac_key_hex(common::HexEncode(std::span<const uint8_t>(set.hmac_key)));
  out.set_identifier_regex(set.identifier_regex);
  out.set_min_matches(set.min_matches);
  for (const auto& digest : set.digests) out.add_digests_hex(common::HexEncode(std::span<const uint8_t>(digest)));
  return out;
}

absl::StatusOr<std::vector<OrderRow>> Terminate(const TerminateOptions& options) {
  OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::WipePolicy policy, common::LoadWipePolicy(options.policy));
  // A mistyped --deadline is reported before anything is read; the orders'
  // deadline is computed from their own time below.
  OFFBOARD_RETURN_IF_ERROR(ParseDeadline(options.deadline, SystemNow()).status());
  OFFBOARD_ASSIGN_OR_RETURN(ControllerHome home, OpenControllerHome(options.data_dir));

  // The contract's datasets, per vendor.
  std::map<std::string, std::map<std::string, offboard::v1::OrderedDataset>> by_vendor;
  OFFBOARD_RETURN_IF_ERROR(home.store->ForEachInventoryFile(
      options.contract, [&](const InventoryFileRow& row) {
        offboard::v1::OrderedDataset& dataset = by_vendor[row.vendor_id][row.dataset_id];
        dataset.set_dataset_id(row.dataset_id);
        dataset.set_classification(row.classification);
        offboard::v1::ExpectedFile* file = dataset.add_files();
        file->set_path(row.path);
        file->set_size(row.size);
        file->set_sha256(row.sha256);
        return absl::OkStatus();
      }));
  if (by_vendor.empty()) {
    return absl::NotFoundError(absl::StrCat("contract ", options.contract, ": no inventory imported"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::vector<FingerprintSetRow> sets,
                            home.store->FingerprintSetsForContract(options.contract));
  for (const FingerprintSetRow& row : sets) {
    OFFBOARD_ASSIGN_OR_RETURN(common::FingerprintSet set,
                              common::ParseFingerprintSet(row.json, row.dataset_id));
    for (auto& [vendor, datasets] : by_vendor) {
      if (auto it = datasets.find(set.dataset_id); it != datasets.end()) {
        *it->second.mutable_fingerprints() = ToProto(set);
      }
    }
  }

  // Run again, terminate asks only the hosts with no order to answer:
  // enrolled since, reinstalled since (their open order went to an agent
  // that will never answer), or whose orders all expired unanswered (those
  // are then superseded once the new one is answered).
  OFFBOARD_ASSIGN_OR_RETURN(const std::vector<OrderRow> earlier,
                            home.store->OrdersForContract(options.contract));
  OFFBOARD_ASSIGN_OR_RETURN(const std::vector<std::string> answered,
                            home.store->AnsweredOrders(options.contract));
  std::vector<common::HostOrder> host_orders;
  std::set<std::string> vendors_ordered;
  for (const OrderRow& order : earlier) {
    vendors_ordered.insert(order.vendor_id);
    host_orders.push_back(
        HostOrderOf(order, std::binary_search(answered.begin(), answered.end(), order.order_id)));
  }

  // The enrollments first, then the clock: every agent listed enrolled before
  // the orders' time. A host that enrolls while this runs is not listed, and
  // waits for the next run.
  std::map<std::string, std::vector<Enrollment>> enrolled;
  for (const auto& [vendor, datasets] : by_vendor) {
    OFFBOARD_ASSIGN_OR_RETURN(enrolled[vendor], home.store->ListEnrollments(vendor));
  }
  const int64_t now = SystemNow();
  OFFBOARD_ASSIGN_OR_RETURN(const int64_t expires_at, ParseDeadline(options.deadline, now));

  std::vector<OrderRow> orders;
  for (const auto& [vendor, datasets] : by_vendor) {
    common::OrderRecipients<Enrollment> recipients =
        common::SelectOrderRecipients(std::move(enrolled[vendor]));
    // An enrollment dated after the run's time (the clock was set back since)
    // is not asked now, nor the agent it replaced: the host is listed as
    // without an order, and `terminate` run again asks it.
    std::erase_if(recipients.agents, [now](const Enrollment& e) { return e.enrolled_at > now; });
    for (const Enrollment& old : recipients.superseded) {
      common::AuditEvent("wipe_order_withheld", {{"contract_id", options.contract},
                                                 {"vendor_id", vendor},
                                                 {"host_id", old.host_id},
                                                 {"agent_id", old.agent_id},
                                                 {"reason", "host enrolled again since"}});
    }
    // A vendor asked before whose hosts were all decommissioned since has
    // nobody left to ask; one never asked must enroll its hosts first.
    if (recipients.agents.empty() && vendors_ordered.contains(vendor)) continue;
    if (recipients.agents.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "contract ", options.contract, ": vendor ", vendor,
          " has no enrolled agent; issue tokens with `offboard-controller token` and enroll "
          "the vendor's hosts first"));
    }
    for (const Enrollment& agent :
         common::AgentsWithoutOrder(recipients.agents, host_orders, /*open_at=*/now)) {
      OFFBOARD_ASSIGN_OR_RETURN(const std::string order_suffix, common::RandomHex(12));
      OFFBOARD_ASSIGN_OR_RETURN(const std::string nonce, common::RandomHex(32));
      offboard::v1::WipeOrder order;
      order.set_order_id(absl::StrCat("order-", order_suffix));
      order.set_contract_id(options.contract);
      order.set_vendor_id(vendor);
      order.set_host_id(agent.host_id);
      order.set_agent_id(agent.agent_id);
      order.set_nonce_hex(nonce);
      *order.mutable_issued_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(now);
      *order.mutable_expires_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(expires_at);
      *order.mutable_policy() = policy;
      for (const auto& [id, dataset] : datasets) *order.add_datasets() = dataset;
      orders.push_back({.order_id = order.order_id(),
                        .contract_id = options.contract,
                        .vendor_id = vendor,
                        .host_id = agent.host_id,
                        .agent_id = agent.agent_id,
                        .nonce_hex = order.nonce_hex(),
                        .policy_name = policy.name(),
                        .issued_at = now,
                        .expires_at = expires_at,
                        .envelope = common::SignWipeOrder(order, home.key)});
    }
  }
  if (orders.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "contract ", options.contract,
        ": every enrolled host already holds a wipe order that is answered or still open (",
        earlier.size(), " issued); `status` shows which are not answered yet"));
  }
  OFFBOARD_RETURN_IF_ERROR(home.store->PutOrders(orders));
  for (const OrderRow& order : orders) {
    common::AuditEvent("wipe_order_issued", {{"order_id", order.order_id},
                                             {"contract_id", order.contract_id},
                                             {"vendor_id", order.vendor_id},
                                             {"host_id", order.host_id},
                                             {"agent_id", order.agent_id},
                                             {"policy", order.policy_name},
                                             {"expires_at", absl::StrCat(order.expires_at)}});
  }
  return orders;
}

}  // namespace

void AddTerminateCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "terminate",
      "End a contract: sign one wipe order per enrolled host of its vendor, with the policy, a "
      "fresh 256-bit nonce, the deadline, and the datasets' digests and fingerprint sets. The "
      "agents pull their orders over mTLS. A host that enrolls while it runs is left for the "
      "next run. Run again, it issues orders only to hosts with none to answer: enrolled since, "
      "or whose orders all expired unanswered.");
  auto options = std::make_shared<TerminateOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--contract", options->contract, "the contract that ends")->required();
  sub->add_option("--policy", options->policy, "wipe policy, e.g. policies/nist-800-88-clear.textproto")
      ->required();
  sub->add_option("--deadline", options->deadline,
                  "when the orders expire: a duration (7d, 36h) or an RFC 3339 time")
      ->default_val("7d");
  sub->callback([&action, options] {
    action = [options] {
      absl::StatusOr<std::vector<OrderRow>> orders = Terminate(*options);
      if (!orders.ok()) return common::ReportError(kProgram, orders.status());
      for (const OrderRow& order : *orders) {
        std::cout << order.order_id << "  vendor " << order.vendor_id << "  host " << order.host_id
                  << "  agent " << order.agent_id << "\n";
      }
      std::cout << orders->size() << " wipe orders issued for contract " << options->contract << "\n";
      return common::kExitDone;
    };
  });
}

}  // namespace offboard::controller
