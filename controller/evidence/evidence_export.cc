#include "controller/evidence/evidence_export.h"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dsse/envelope.h"
#include "common/encoding/csv.h"
#include "common/encoding/hex.h"
#include "common/evidence/evidence_package.h"
#include "common/evidence/evidence_report.h"
#include "common/evidence/package_writer.h"
#include "common/inventory/inventory_csv.h"
#include "common/io/read_file.h"
#include "common/reconcile/reconciliation_report.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"
#include "controller/cli/contract_reconciliation.h"
#include "controller/intake/self_attestation_intake.h"
#include "controller/tlog/merkle_tree.h"

namespace offboard::controller {
namespace {

std::vector<std::string> HexList(const std::vector<common::MerkleHash>& hashes) {
  std::vector<std::string> out;
  out.reserve(hashes.size());
  for (const common::MerkleHash& hash : hashes) out.push_back(common::HexEncode(hash));
  return out;
}

// The log as stored, checked against its latest signed head.
absl::StatusOr<MerkleTree> LoadLog(ControllerStore& store, const TreeHeadRow& latest) {
  OFFBOARD_ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                            store.LeafHashes(0, latest.tree_size));
  MerkleTree tree;
  for (const std::string& hex : hashes) {
    absl::StatusOr<common::MerkleHash> hash = common::MerkleHashFromHex(hex);
    if (!hash.ok()) return absl::DataLossError(absl::StrCat("stored leaf hash: ", hash.status().message()));
    tree.Append(*hash);
  }
  OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash root, tree.Root(latest.tree_size));
  if (common::HexEncode(root) != latest.root_hash_hex) {
    return absl::DataLossError(absl::StrCat("the stored log does not give the root of the latest "
                                            "signed tree head (size ",
                                            latest.tree_size, "): the store was altered"));
  }
  return tree;
}

// The smallest stored head that holds leaf `index` (the one its receipt was
// given, or the first after a batch that was signed together).
const TreeHeadRow* HeadFor(const std::vector<TreeHeadRow>& heads, uint64_t index) {
  const auto it = std::upper_bound(heads.begin(), heads.end(), index,
                                   [](uint64_t i, const TreeHeadRow& h) { return i < h.tree_size; });
  return it == heads.end() ? nullptr : &*it;
}

common::EnrollmentRecord ToRecord(const Enrollment& e) {
  return {.agent_id = e.agent_id,
          .vendor_id = e.vendor_id,
          .host_id = e.host_id,
          .hostname = e.hostname,
          .attestation_key_id = e.attestation_key_id,
          .attestation_public_key_pem = e.attestation_public_key_pem,
          .client_certificate_pem = e.client_certificate_pem,
          .certificate_serial_hex = e.certificate_serial_hex,
          .enrolled_at = e.enrolled_at,
          .banned = e.banned,
          .banned_at = e.banned_at};
}

// The head the recipient holds, checked against this log: signed by this
// controller, of a size the log has reached, with the log's root at that
// size. INVALID_ARGUMENT for a head that is not one; DATA_LOSS when the
// controller signed a different root for that size than its log has now.
absl::StatusOr<TreeHeadRow> HeadSince(const std::string& envelope,
                                      const common::Ed25519PublicKey& key, const MerkleTree& tree,
                                      uint64_t latest_size) {
  absl::StatusOr<offboard::v1::TreeHead> head = common::VerifyTreeHead(envelope, key);
  if (!head.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--since-head: not a tree head signed by this controller: ", head.status().message()));
  }
  if (head->tree_size() == 0 || head->tree_size() > latest_size) {
    return absl::InvalidArgumentError(absl::StrCat("--since-head: size ", head->tree_size(),
                                                   " is not in 1..", latest_size,
                                                   ", the sizes this log has signed"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(const common::MerkleHash root, tree.Root(head->tree_size()));
  if (common::HexEncode(root) != head->root_hash_hex()) {
    return absl::DataLossError(
        absl::StrCat("--since-head: this log's root at size ", head->tree_size(), " is ",
                     common::HexEncode(root), ", the signed head says ", head->root_hash_hex(),
                     ": the log is not an extension of the one that head was signed for"));
  }
  return TreeHeadRow{.tree_size = head->tree_size(),
                     .root_hash_hex = head->root_hash_hex(),
                     .timestamp = head->timestamp().seconds(),
                     .signed_envelope = envelope};
}

}  // namespace

absl::StatusOr<ExportSummary> ExportEvidence(ControllerHome& home, const ExportOptions& options) {
  ControllerStore& store = *home.store;
  const std::string& contract = options.contract_id;
  OFFBOARD_ASSIGN_OR_RETURN(auto writer,
                            common::EvidencePackageWriter::Create(options.out, options.now));

  // Everything is read once, and the reconciliation computed from exactly
  // what goes into the package.
  OFFBOARD_ASSIGN_OR_RETURN(ContractRecords records, LoadContractRecords(store, contract));
  // The package is the contract as of options.now: an attestation the
  // intake accepted at a later time (it read its clock after this export
  // did, and committed before the read above) belongs to the next one.
  std::erase_if(records.attestations,
                [&](const AttestationRow& row) { return row.accepted_at > options.now; });
  std::string inventory_csv = std::string(common::kInventoryCsvHeader) + "\r\n";
  std::set<std::string> vendors;
  std::vector<common::EnrollmentRecord> enrollments;
  std::vector<common::OfficerRecord> officers;
  common::HostCertificateBuilder certificates;
  ReconcileHooks hooks;
  // The enrollments reconciliation read (the vendors are known once the
  // inventory was read), before any attestation: certificates need hosts.
  hooks.on_enrollments = [&](const std::vector<Enrollment>& of_vendors) -> absl::Status {
    for (const Enrollment& e : of_vendors) {
      enrollments.push_back(ToRecord(e));
      certificates.AddHost(common::EvidenceHostOf(enrollments.back()));
    }
    for (const std::string& vendor : vendors) {
      OFFBOARD_ASSIGN_OR_RETURN(std::vector<OfficerKey> keys,
                                OfficerKeysOf(home.paths.dir / "officers", vendor));
      for (const OfficerKey& k : keys) {
        officers.push_back({.key_id = k.key_id,
                            .vendor_id = k.vendor_id,
                            .name = k.name,
                            .public_key_pem = k.public_key_pem});
      }
    }
    return absl::OkStatus();
  };
  hooks.on_inventory_row = [&](const InventoryFileRow& row) {
    vendors.insert(row.vendor_id);
    absl::StrAppend(&inventory_csv, common::CsvField(row.contract_id), ",",
                    common::CsvField(row.vendor_id), ",", common::CsvField(row.dataset_id), ",",
                    common::CsvField(row.classification), ",", common::CsvField(row.path), ",",
                    row.size, ",", row.sha256, "\r\n");
  };
  // The certificates are folded from the same parsed attestations.
  hooks.on_attestation = [&](const AttestationRow& row, const nlohmann::json& predicate) {
    return certificates.AddAttestation(row.agent_id, row.log_index, predicate);
  };
  OFFBOARD_ASSIGN_OR_RETURN(common::Reconciliation reconciliation,
                            ReconcileContract(store, contract, options.now, records, hooks));
  std::vector<common::RefusalRecord> refusals;
  for (const RefusalRow& r : records.refusals) {
    refusals.push_back(
        {.at = r.at, .order_id = r.order_id, .agent_id = r.agent_id, .reason = r.reason});
  }

  OFFBOARD_RETURN_IF_ERROR(
      writer->Add(std::string(common::kControllerKeyMember), home.key.PublicKey().ToPem()));
  OFFBOARD_ASSIGN_OR_RETURN(std::string ca_pem,
                            common::ReadFileToString(home.paths.CaDir() / "ca.pem", 1 << 20));
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kCaCertificateMember), ca_pem));
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kEnrollmentsMember),
                                       common::DumpRecord(common::ToJson(enrollments))));
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kOfficersMember),
                                       common::DumpRecord(common::ToJson(officers))));
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kRefusalsMember),
                                       common::DumpRecord(common::ToJson(refusals))));
  for (const OrderRow& order : records.orders) {
    OFFBOARD_RETURN_IF_ERROR(writer->Add(common::OrderMemberName(order.order_id), order.envelope));
  }

  // The log: the heads the receipts were given, the latest, and proofs.
  common::TreeHeadsRecord log_record;
  std::vector<common::ReceiptRecord> receipts;
  uint64_t latest_size = 0;
  std::string latest_root;
  if (absl::StatusOr<TreeHeadRow> latest = store.LatestTreeHead(); latest.ok()) {
    OFFBOARD_ASSIGN_OR_RETURN(const MerkleTree tree, LoadLog(store, *latest));
    OFFBOARD_ASSIGN_OR_RETURN(const std::vector<TreeHeadRow> heads, store.TreeHeads());
    std::vector<const TreeHeadRow*> used;
    for (const AttestationRow& row : records.attestations) {
      const TreeHeadRow* head = HeadFor(heads, row.log_index);
      if (head == nullptr || head->tree_size > latest->tree_size) {
        return absl::DataLossError(
            absl::StrCat("attestation ", row.log_index, ": no signed tree head holds it"));
      }
      OFFBOARD_ASSIGN_OR_RETURN(std::vector<common::MerkleHash> proof,
                                tree.InclusionProof(row.log_index, head->tree_size));
      receipts.push_back({.log_index = row.log_index,
                          .order_id = row.order_id,
                          .agent_id = row.agent_id,
                          .leaf_hash = row.leaf_hash_hex,
                          .accepted_at = row.accepted_at,
                          .tree_size = head->tree_size,
                          .inclusion_proof = HexList(proof)});
      if (used.empty() || used.back() != head) used.push_back(head);
    }
    std::sort(used.begin(), used.end(),
              [](const TreeHeadRow* a, const TreeHeadRow* b) { return a->tree_size < b->tree_size; });
    used.erase(std::unique(used.begin(), used.end()), used.end());
    if (used.empty() || used.back()->tree_size != latest->tree_size) used.push_back(&*latest);
    std::optional<TreeHeadRow> since;
    if (options.since_head) {
      OFFBOARD_ASSIGN_OR_RETURN(
          since, HeadSince(*options.since_head, home.key.PublicKey(), tree, latest->tree_size));
      const auto at = std::lower_bound(
          used.begin(), used.end(), since->tree_size,
          [](const TreeHeadRow* head, uint64_t size) { return head->tree_size < size; });
      // A head of that size is there already: the same root, checked above.
      if (at == used.end() || (*at)->tree_size != since->tree_size) used.insert(at, &*since);
    }
    for (size_t i = 0; i < used.size(); ++i) {
      log_record.heads.push_back(used[i]->signed_envelope);
      if (i == 0) continue;
      OFFBOARD_ASSIGN_OR_RETURN(
          std::vector<common::MerkleHash> proof,
          tree.ConsistencyProof(used[i - 1]->tree_size, used[i]->tree_size));
      log_record.consistency.push_back({.from_size = used[i - 1]->tree_size,
                                        .to_size = used[i]->tree_size,
                                        .proof = HexList(proof)});
    }
    latest_size = latest->tree_size;
    latest_root = latest->root_hash_hex;
  } else if (!absl::IsNotFound(latest.status())) {
    return latest.status();
  } else if (options.since_head) {
    if (common::VerifyTreeHead(*options.since_head, home.key.PublicKey()).ok()) {
      return absl::DataLossError(
          "--since-head: this controller signed that head, but its log has no signed head now: "
          "the log was reset");
    }
    return absl::InvalidArgumentError("--since-head: not a tree head signed by this controller");
  }
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kTreeHeadsMember),
                                       common::DumpRecord(common::ToJson(log_record))));
  for (const common::ReceiptRecord& receipt : receipts) {
    OFFBOARD_RETURN_IF_ERROR(writer->Add(common::ReceiptMemberName(receipt.log_index),
                                         common::DumpRecord(common::ToJson(receipt))));
  }
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kInventoryMember), inventory_csv));
  for (size_t i = 0; i < records.self_attestations.size(); ++i) {
    OFFBOARD_RETURN_IF_ERROR(writer->Add(common::SelfAttestationMemberName(i),
                                         records.self_attestations[i].envelope));
  }

  for (const AttestationRow& row : records.attestations) {
    OFFBOARD_RETURN_IF_ERROR(writer->Add(common::AttestationMemberName(row.log_index), row.envelope));
  }

  std::ostringstream json_out;
  common::WriteReconciliationJson(reconciliation, json_out);
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kReconciliationJsonMember), json_out.str()));
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kReconciliationCsvMember),
                                       common::ReconciliationCsv(reconciliation)));

  common::Manifest manifest;
  manifest.contract_id = contract;
  manifest.vendor_id = absl::StrJoin(vendors, ",");
  manifest.exported_at = options.now;
  manifest.organization = options.organization;
  manifest.officer = options.officer;
  manifest.controller_key_id = home.key.KeyId();
  manifest.controller_version = OFFBOARD_VERSION;
  const std::string html = common::RenderPackageReport(reconciliation, manifest, latest_size,
                                                       latest_root, std::move(certificates).Finish());
  OFFBOARD_RETURN_IF_ERROR(writer->Add(std::string(common::kReportMember), html));

  ExportSummary summary{.verdict = reconciliation.verdict,
                        .members = 0,
                        .attestations = records.attestations.size(),
                        .tree_size = latest_size};
  OFFBOARD_RETURN_IF_ERROR(
      writer->Finish([&](const std::vector<common::ManifestEntry>& members)
                         -> absl::StatusOr<std::string> {
        manifest.members = members;
        summary.members = members.size() + 1;
        return common::SerializeDsseEnvelope(common::SignDsse(
            common::kManifestPayloadType, common::DumpRecord(common::ManifestToJson(manifest)),
            home.key));
      }));
  return summary;
}

}  // namespace offboard::controller
