#include "agent/service/order_runner.h"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/scan/scanner.h"
#include "agent/service/controller_client.h"
#include "agent/service/plan_approval.h"
#include "agent/wipe/wipe_report_json.h"
#include "agent/wipe/wipe_run.h"
#include "common/crypto/sha256.h"
#include "common/encoding/hex.h"
#include "common/inventory/fingerprint_set.h"
#include "common/inventory/inventory_csv.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

constexpr absl::string_view kComplete = "complete";
constexpr absl::string_view kIncomplete = "incomplete";

offboard::v1::HeartbeatRequest Beat(const std::string& order_id, offboard::v1::AgentPhase phase) {
  offboard::v1::HeartbeatRequest request;
  request.set_order_id(order_id);
  request.set_phase(phase);
  return request;
}

}  // namespace

absl::StatusOr<OrderIndexes> BuildOrderIndexes(const offboard::v1::WipeOrder& order) {
  DatasetIndex::Builder builder;
  std::vector<common::FingerprintSet> sets;
  for (const offboard::v1::OrderedDataset& dataset : order.datasets()) {
    if (dataset.dataset_id().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("order ", order.order_id(), ": a dataset without dataset_id"));
    }
    for (const offboard::v1::ExpectedFile& file : dataset.files()) {
      if (!common::IsLowerHex(file.sha256(), common::kSha256Size)) {
        return absl::InvalidArgumentError(
            absl::StrCat("order ", order.order_id(), ": dataset ", dataset.dataset_id(), ": file '",
                         file.path(), "': field 'sha256' is not 64 lowercase hex"));
      }
      builder.Add({.contract_id = order.contract_id(),
                   .vendor_id = order.vendor_id(),
                   .dataset_id = dataset.dataset_id(),
                   .classification = dataset.classification(),
                   .path = file.path(),
                   .size = file.size(),
                   .sha256 = file.sha256()});
    }
    const offboard::v1::FingerprintSet& fingerprints = dataset.fingerprints();
    if (fingerprints.digests_hex_size() == 0) continue;
    // The parser of the bank's fingerprint files validates the key length,
    // the regex and min_matches, and sorts the digests.
    nlohmann::json json = {{"dataset_id", dataset.dataset_id()},
                           {"hmac_key", fingerprints.hmac_key_hex()},
                           {"identifier", fingerprints.identifier_regex()},
                           {"min_matches", fingerprints.min_matches()},
                           {"digests", fingerprints.digests_hex()}};
    OFFBOARD_ASSIGN_OR_RETURN(
        common::FingerprintSet set,
        common::ParseFingerprintSet(
            json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
            absl::StrCat("order ", order.order_id(), " fingerprints of ", dataset.dataset_id())));
    sets.push_back(std::move(set));
  }
  OFFBOARD_ASSIGN_OR_RETURN(DatasetIndex index, std::move(builder).Finish());
  OFFBOARD_ASSIGN_OR_RETURN(FingerprintIndex fingerprint_index,
                            FingerprintIndex::Build(std::move(sets)));
  return OrderIndexes{std::move(index), std::move(fingerprint_index)};
}

OrderResult OrderRunner::Refuse(const std::string& order_id, const std::string& reason) {
  common::AuditEvent("wipe_order_refused", {{"order_id", order_id.empty() ? "-" : order_id},
                                            {"agent_id", options_.agent_id},
                                            {"reason", reason}});
  return {.order_id = order_id, .outcome = OrderOutcome::kRefused, .message = reason};
}

OrderResult OrderRunner::Run(const offboard::v1::SignedWipeOrder& signed_order, int64_t now_unix,
                             const HeartbeatFunction& heartbeat) {
  const std::string& claimed_id = signed_order.order_id();
  // A finished order is not run again, whatever the controller still lists
  // (an expired order that we already answered is no reason to complain).
  if (IsSafeOrderId(claimed_id)) {
    absl::StatusOr<std::string> done = common::ReadFileToString(OrderDir(claimed_id) / "done", 64);
    if (done.ok()) {
      const bool complete = absl::StripAsciiWhitespace(*done) == kComplete;
      return {.order_id = claimed_id,
              .outcome = complete ? OrderOutcome::kWipedComplete : OrderOutcome::kWipedIncomplete,
              .already_done = true,
              .message = "finished earlier"};
    }
  }
  // A run of this very order that was interrupted, or finished without
  // reaching the outbox, is completed whatever the time: data may already be
  // gone, and only its attestation says so. Expiry bars new runs only.
  const std::string envelope_digest = common::DigestHex(common::Sha256Of(signed_order.envelope()));
  absl::StatusOr<bool> underway = HasRunFor(options_.data_dir, envelope_digest);
  if (!underway.ok()) {
    return {.order_id = claimed_id,
            .outcome = OrderOutcome::kFailed,
            .message = underway.status().ToString()};
  }
  absl::StatusOr<offboard::v1::WipeOrder> order =
      *underway
          ? common::VerifyWipeOrderSignature(signed_order.envelope(), options_.controller_key)
          : common::VerifyWipeOrder(signed_order.envelope(), options_.controller_key, now_unix);
  if (!order.ok()) return Refuse(claimed_id, order.status().ToString());
  if (order->order_id() != claimed_id) {
    return Refuse(claimed_id, absl::StrCat("the signed order's id is ", order->order_id()));
  }
  if (!IsSafeOrderId(order->order_id())) return Refuse(claimed_id, "order id cannot name a file");
  if (order->agent_id() != options_.agent_id || order->vendor_id() != options_.vendor_id) {
    return Refuse(claimed_id, absl::StrCat("addressed to agent ", order->agent_id(), " of vendor ",
                                           order->vendor_id(), ", not to this agent ",
                                           options_.agent_id, " of vendor ", options_.vendor_id));
  }
  common::AuditEvent("wipe_order_accepted", {{"order_id", order->order_id()},
                                             {"contract_id", order->contract_id()},
                                             {"agent_id", options_.agent_id},
                                             {"datasets", std::to_string(order->datasets_size())},
                                             {"policy", order->policy().name()}});
  std::string summary;
  absl::StatusOr<OrderOutcome> outcome =
      Execute(*order, signed_order.envelope(), heartbeat, summary);
  if (!outcome.ok()) {
    if (outcome.status().code() == absl::StatusCode::kInvalidArgument) {
      return Refuse(claimed_id, outcome.status().ToString());
    }
    common::AuditEvent("wipe_order_failed",
                       {{"order_id", claimed_id}, {"error", outcome.status().ToString()}});
    return {.order_id = claimed_id,
            .outcome = OrderOutcome::kFailed,
            .message = outcome.status().ToString()};
  }
  return {.order_id = claimed_id, .outcome = *outcome, .message = summary};
}

absl::StatusOr<OrderOutcome> OrderRunner::Execute(const offboard::v1::WipeOrder& order,
                                                  const std::string& envelope,
                                                  const HeartbeatFunction& heartbeat,
                                                  std::string& summary) {
  OFFBOARD_ASSIGN_OR_RETURN(OrderIndexes indexes, BuildOrderIndexes(order));
  const std::string& order_id = order.order_id();
  int scans = 0;
  const ScanFunction scan = [&](const ScanOptions& scan_options) -> absl::StatusOr<ScanReport> {
    const bool first = scans++ == 0;
    heartbeat(Beat(order_id, first ? offboard::v1::AGENT_PHASE_SCANNING
                                   : offboard::v1::AGENT_PHASE_VERIFYING));
    Scanner scanner(indexes.datasets, &indexes.fingerprints, scan_options);
    ScanProgress progress;
    return scanner.Run(&progress);
  };

  const std::string envelope_digest = common::DigestHex(common::Sha256Of(envelope));
  // Between the first scan and the first step: wait for a person's approval
  // when the vendor asked for it, and say which phase the order is in.
  ApprovalCheck approval_check;
  const PlanGate approval_gate =
      options_.approve_plan
          ? ApprovalGate(options_.data_dir, order, envelope_digest, options_.roots, &approval_check)
          : nullptr;
  const PlanGate gate = [&](const WipePlan& plan,
                            const ScanReport& first_scan) -> absl::StatusOr<PlanVerdict> {
    PlanVerdict verdict;
    if (approval_gate) {
      OFFBOARD_ASSIGN_OR_RETURN(verdict, approval_gate(plan, first_scan));
    }
    offboard::v1::HeartbeatRequest beat =
        Beat(order_id, verdict.proceed ? offboard::v1::AGENT_PHASE_WIPING
                                       : offboard::v1::AGENT_PHASE_WAITING_APPROVAL);
    beat.set_files_scanned(first_scan.stats.files_scanned);
    beat.set_bytes_read(first_scan.stats.bytes_read);
    beat.set_items_total(static_cast<uint32_t>(first_scan.findings.size()));
    heartbeat(beat);
    return verdict;
  };
  WipeRunRequest request;
  request.roots = options_.roots;
  request.policy = order.policy();
  request.fingerprints = &indexes.fingerprints;
  request.scan = scan;
  request.data_dir = options_.data_dir;
  request.request_digest = envelope_digest;
  request.inventory_sha256 = envelope_digest;
  request.order_id = order_id;
  request.nonce_hex = order.nonce_hex();
  request.agent_version = options_.agent_version;
  request.cross_filesystems = options_.cross_filesystems;
  request.threads = options_.threads;
  // What one message to the controller may carry; larger goes in parts.
  request.max_envelope_bytes =
      options_.max_envelope_bytes != 0 ? options_.max_envelope_bytes : kMaxEnvelopeBytes;
  request.plan_gate = gate;
  OFFBOARD_ASSIGN_OR_RETURN(WipeRunResult result, ExecuteWipeRun(request));
  if (result.held) {
    const PlanCounts& counts = approval_check.counts;
    summary = absl::StrCat(
        approval_check.reason, ": plan ", PlanPath(options_.data_dir, order_id).string(),
        " (sha256 ", approval_check.plan_sha256, "; ", counts.targets,
        " files on disk: ", counts.files, " whole files, ", counts.archive_members,
        " archive members, ", counts.derived_copies,
        " derived copies); approve it with: ", ApproveCommand(options_.data_dir, order_id));
    return OrderOutcome::kAwaitingApproval;
  }

  // The attestation is durable in the outbox before anyone is told it exists.
  OFFBOARD_RETURN_IF_ERROR(outbox_.Put(order_id, result.attestation_parts.empty()
                                                     ? std::vector{result.attestation_envelope}
                                                     : result.attestation_parts));
  const fs::path dir = OrderDir(order_id);
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(dir));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(
      dir / "report.json",
      result.report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
  const bool complete = result.complete();
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(
      dir / "done", absl::StrCat(complete ? kComplete : kIncomplete, "\n")));
  offboard::v1::HeartbeatRequest attesting = Beat(order_id, offboard::v1::AGENT_PHASE_ATTESTING);
  attesting.set_files_scanned(result.post_scan.stats.files_scanned);
  attesting.set_items_total(static_cast<uint32_t>(result.items.size()));
  attesting.set_items_done(static_cast<uint32_t>(std::count_if(
      result.items.begin(), result.items.end(),
      [](const WipeItem& item) { return item.outcome.status == ItemStatus::kWiped; })));
  heartbeat(attesting);
  summary = absl::StrCat(result.items.size(), " items: ", ItemSummary(result.items).dump(), "; ",
                         result.first_scan.errors.size() + result.post_scan.errors.size(),
                         " not fully examined", result.resumed ? "; resumed" : "",
                         "; report: ", (dir / "report.json").string());
  return complete ? OrderOutcome::kWipedComplete : OrderOutcome::kWipedIncomplete;
}

}  // namespace offboard::agent
