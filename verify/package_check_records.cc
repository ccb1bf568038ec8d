#include <openssl/x509.h>

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/evidence/evidence_package.h"
#include "common/evidence/evidence_report.h"
#include "common/intoto/statement.h"
#include "common/inventory/inventory_csv.h"
#include "common/io/read_file.h"
#include "common/merkle/merkle.h"
#include "common/reconcile/order_recipients.h"
#include "common/reconcile/reconciler.h"
#include "common/reconcile/reconciliation_report.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"
#include "common/tls/agent_identity.h"
#include "common/tls/x509.h"
#include "verify/package_checker.h"

namespace offboard::verify::internal {

absl::Status PackageChecker::CheckEnrollments(const std::string& bytes) {
  if (!ca_) return absl::InvalidArgumentError("comes before the CA certificate");
  OFFBOARD_ASSIGN_OR_RETURN(std::vector<common::EnrollmentRecord> records,
                            common::EnrollmentsFromJson(bytes));
  const std::vector<std::string> vendors = absl::StrSplit(manifest_.vendor_id, ',');
  EVP_PKEY* ca_key = X509_get0_pubkey(ca_.get());
  for (common::EnrollmentRecord& record : records) {
    const std::string who = absl::StrCat("agent ", record.agent_id);
    if (std::find(vendors.begin(), vendors.end(), record.vendor_id) == vendors.end()) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": vendor ", record.vendor_id,
                                                     " is not the contract's"));
    }
    OFFBOARD_ASSIGN_OR_RETURN(common::UniqueX509 certificate,
                              common::ParseCertificatePem(record.client_certificate_pem));
    if (ca_key == nullptr || X509_verify(certificate.get(), ca_key) != 1 ||
        X509_check_issued(ca_.get(), certificate.get()) != X509_V_OK) {
      return absl::UnauthenticatedError(
          absl::StrCat(who, ": client certificate not issued by trust/ca.pem"));
    }
    absl::StatusOr<common::CertificateValidity> validity = common::ValidityOf(certificate.get());
    if (!validity.ok()) return At(who, "client certificate", validity.status());
    OFFBOARD_ASSIGN_OR_RETURN(common::AgentIdentity identity,
                              common::AgentIdentityFromCertificate(record.client_certificate_pem));
    if (identity != common::AgentIdentity{record.vendor_id, record.host_id, record.agent_id}) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": the certificate names ", common::AgentIdentityUri(identity)));
    }
    OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey key,
                              common::Ed25519PublicKey::FromPem(record.attestation_public_key_pem));
    if (key.KeyId() != record.attestation_key_id) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": attestation_key_id is not its key's"));
    }
    certificates_.AddHost(common::EvidenceHostOf(record));
    summary_.signing_keys.push_back(absl::StrCat("agent ", record.agent_id, " (vendor ",
                                                 record.vendor_id, ", host ", record.host_id,
                                                 "): ", key.KeyId()));
    const std::string agent_id = record.agent_id;
    if (!agents_.emplace(agent_id, KnownAgent{std::move(record), std::move(key), *validity})
             .second) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": enrolled twice"));
    }
  }
  summary_.enrollments = agents_.size();
  return absl::OkStatus();
}

absl::StatusOr<CheckedOrder> CheckOrderJob(const std::string& name, const std::string& bytes,
                                           const common::Ed25519PublicKey& controller_key,
                                           const std::string& contract_id,
                                           const std::map<std::string, KnownAgent>& agents) {
  absl::StatusOr<offboard::v1::WipeOrder> order =
      common::VerifyWipeOrderSignature(bytes, controller_key);
  if (!order.ok()) return At(name, "wipe order", order.status());
  if (name != common::OrderMemberName(order->order_id())) {
    return Fail(name, "wipe order", absl::StrCat("holds order ", order->order_id()));
  }
  if (order->contract_id() != contract_id) {
    return Fail(name, "wipe order",
                absl::StrCat("order for contract ", order->contract_id(), ", not ", contract_id));
  }
  const auto agent = agents.find(order->agent_id());
  if (agent == agents.end() || agent->second.record.host_id != order->host_id() ||
      agent->second.record.vendor_id != order->vendor_id()) {
    return Fail(name, "wipe order",
                absl::StrCat("addressed to agent ", order->agent_id(),
                             ", not enrolled for that vendor and host"));
  }
  const common::EnrollmentRecord& addressee = agent->second.record;
  const int64_t issued_at = order->issued_at().seconds();
  if (issued_at < addressee.enrolled_at) {
    return Fail(name, "wipe order",
                absl::StrCat("issued at ", common::UnixToRfc3339(issued_at), ", before agent ",
                             addressee.agent_id, " enrolled at ",
                             common::UnixToRfc3339(addressee.enrolled_at)));
  }
  if (order->expires_at().seconds() < issued_at) {
    return Fail(name, "wipe order",
                absl::StrCat("expires at ", common::UnixToRfc3339(order->expires_at().seconds()),
                             ", before it was issued at ", common::UnixToRfc3339(issued_at)));
  }
  return CheckedOrder{.order_id = order->order_id(),
                      .order = {.nonce = order->nonce_hex(),
                                .agent_id = order->agent_id(),
                                .host_id = order->host_id(),
                                .vendor_id = order->vendor_id(),
                                .expires_at = order->expires_at().seconds(),
                                .issued_at = order->issued_at().seconds()}};
}

absl::Status PackageChecker::SubmitOrder(PackageMember& member) {
  // Enrollments are complete here and never change again: workers may read them.
  orders_in_flight_.push_back(
      Pool().Submit([this, name = member.name, bytes = std::move(member.bytes)] {
        return CheckOrderJob(name, bytes, *controller_key_, manifest_.contract_id, agents_);
      }));
  return orders_in_flight_.size() > 256 ? TakeOrders(false) : absl::OkStatus();
}

absl::Status PackageChecker::TakeOrders(bool all) {
  while (!orders_in_flight_.empty()) {
    absl::StatusOr<CheckedOrder> checked = orders_in_flight_.front().get();
    orders_in_flight_.pop_front();
    if (!checked.ok()) return checked.status();
    orders_[checked->order_id] = std::move(checked->order);
    order_sequence_.push_back(std::move(checked->order_id));
    if (!all) break;
  }
  return absl::OkStatus();
}

WorkerPool& PackageChecker::Pool() {
  if (!pool_) pool_ = std::make_unique<WorkerPool>(std::max(2u, std::thread::hardware_concurrency()));
  return *pool_;
}

absl::Status PackageChecker::CheckTreeHeads(const std::string& bytes) {
  OFFBOARD_ASSIGN_OR_RETURN(common::TreeHeadsRecord record, common::TreeHeadsFromJson(bytes));
  std::vector<std::pair<uint64_t, common::MerkleHash>> heads;
  for (size_t i = 0; i < record.heads.size(); ++i) {
    absl::StatusOr<offboard::v1::TreeHead> head =
        common::VerifyTreeHead(record.heads[i], *controller_key_);
    if (!head.ok()) return At(absl::StrCat("heads[", i, "]"), "signature", head.status());
    OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash root, common::MerkleHashFromHex(head->root_hash_hex()));
    if (!heads.empty() && head->tree_size() <= heads.back().first) {
      return absl::InvalidArgumentError(absl::StrCat("heads[", i, "]: sizes not ascending"));
    }
    heads.emplace_back(head->tree_size(), root);
  }
  if (record.consistency.size() != (heads.empty() ? 0 : heads.size() - 1)) {
    return absl::InvalidArgumentError("not one consistency proof between each two heads");
  }
  for (size_t i = 0; i < record.consistency.size(); ++i) {
    const common::ConsistencyRecord& c = record.consistency[i];
    if (c.from_size != heads[i].first || c.to_size != heads[i + 1].first) {
      return absl::InvalidArgumentError(absl::StrCat("consistency[", i, "]: wrong sizes"));
    }
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<common::MerkleHash> proof, common::MerkleHashesFromHex(c.proof));
    OFFBOARD_RETURN_IF_ERROR(At(absl::StrCat("consistency[", i, "]"), "proof",
                                common::VerifyConsistency(c.from_size, c.to_size, proof,
                                                          heads[i].second, heads[i + 1].second)));
  }
  for (const auto& [size, root] : heads) heads_[size] = root;
  if (!heads.empty()) {
    summary_.tree_size = heads.back().first;
    summary_.root_hex = common::HexEncode(heads.back().second);
    summary_.latest_head = record.heads.back();
  }
  summary_.tree_heads = heads.size();
  return absl::OkStatus();
}

absl::Status PackageChecker::CheckKnownHead() {
  // The package's key when the auditor gave none: the summary says so.
  absl::StatusOr<offboard::v1::TreeHead> known =
      common::VerifyTreeHead(*options_.known_head, *controller_key_);
  if (!known.ok()) return At("known head", "signature by the controller key", known.status());
  const uint64_t size = known->tree_size();
  if (size > summary_.tree_size) {
    return Fail("known head", "consistency",
                absl::StrCat("the package's log (size ", summary_.tree_size,
                             ") is older than the known head (size ", size,
                             "): ask the bank for a package exported since"));
  }
  const auto held = heads_.find(size);
  if (held == heads_.end()) {
    return Fail("known head", "consistency",
                absl::StrCat("the package holds no signed head of size ", size,
                             " to tie it to its log; ask the bank for a package exported with "
                             "--since-head and this head"));
  }
  if (common::HexEncode(held->second) != known->root_hash_hex()) {
    return Fail("known head", "consistency",
                absl::StrCat("at size ", size, " the package's log has root ",
                             common::HexEncode(held->second), ", the known head ",
                             known->root_hash_hex(), ": the controller signed two different logs"));
  }
  summary_.known_head_size = size;
  return absl::OkStatus();
}

absl::Status PackageChecker::CheckReceipt(const std::string& name, const std::string& bytes) {
  OFFBOARD_ASSIGN_OR_RETURN(common::ReceiptRecord receipt, common::ReceiptFromJson(bytes));
  if (name != common::ReceiptMemberName(receipt.log_index)) {
    return absl::InvalidArgumentError(absl::StrCat("holds the receipt of leaf ", receipt.log_index));
  }
  const auto order = orders_.find(receipt.order_id);
  if (order == orders_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("order ", receipt.order_id, " is not in the package"));
  }
  if (order->second.agent_id != receipt.agent_id) {
    return absl::InvalidArgumentError(absl::StrCat("agent ", receipt.agent_id,
                                                   " is not the one order ", receipt.order_id,
                                                   " was addressed to"));
  }
  OFFBOARD_RETURN_IF_ERROR(CheckAcceptedAt(receipt, order->second));
  const auto head = heads_.find(receipt.tree_size);
  if (head == heads_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("no signed tree head of size ", receipt.tree_size));
  }
  OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash leaf, common::MerkleHashFromHex(receipt.leaf_hash));
  OFFBOARD_ASSIGN_OR_RETURN(std::vector<common::MerkleHash> proof,
                            common::MerkleHashesFromHex(receipt.inclusion_proof));
  OFFBOARD_RETURN_IF_ERROR(At("inclusion proof", absl::StrCat("leaf ", receipt.log_index),
                              common::VerifyInclusion(leaf, receipt.log_index, receipt.tree_size,
                                                      proof, head->second)));
  receipts_[receipt.log_index] = std::move(receipt);
  return absl::OkStatus();
}

absl::Status PackageChecker::CheckAcceptedAt(const common::ReceiptRecord& receipt,
                                             const KnownOrder& order) const {
  const std::string accepted = common::UnixToRfc3339(receipt.accepted_at);
  if (receipt.accepted_at < order.issued_at) {
    return absl::InvalidArgumentError(absl::StrCat("accepted at ", accepted, ", before order ",
                                                   receipt.order_id, " was issued at ",
                                                   common::UnixToRfc3339(order.issued_at)));
  }
  if (receipt.accepted_at > manifest_.exported_at) {
    return absl::InvalidArgumentError(absl::StrCat("accepted at ", accepted,
                                                   ", after the package was exported at ",
                                                   common::UnixToRfc3339(manifest_.exported_at)));
  }
  // The order's addressee is enrolled: CheckOrderJob made sure.
  const KnownAgent& agent = agents_.at(order.agent_id);
  if (agent.record.banned && receipt.accepted_at > agent.record.banned_at) {
    return absl::InvalidArgumentError(absl::StrCat("accepted at ", accepted, " from agent ",
                                                   order.agent_id, ", banned at ",
                                                   common::UnixToRfc3339(agent.record.banned_at)));
  }
  // The agent sent it over mutual TLS: its certificate was valid then.
  if (receipt.accepted_at < agent.certificate.not_before ||
      receipt.accepted_at > agent.certificate.not_after) {
    return absl::InvalidArgumentError(
        absl::StrCat("accepted at ", accepted, ", when agent ", order.agent_id,
                     "'s client certificate was not valid (",
                     common::UnixToRfc3339(agent.certificate.not_before), " to ",
                     common::UnixToRfc3339(agent.certificate.not_after), ")"));
  }
  return absl::OkStatus();
}

std::vector<common::HostOrder> PackageChecker::HostOrders() const {
  std::vector<common::HostOrder> host_orders;
  for (const std::string& id : order_sequence_) {
    const KnownOrder& order = orders_.at(id);
    host_orders.push_back({.order_id = id,
                           .host_id = order.host_id,
                           .agent_id = order.agent_id,
                           .expires_at = order.expires_at,
                           .answered = false,
                           .vendor_id = order.vendor_id,
                           .issued_at = order.issued_at});
  }
  return host_orders;
}

absl::Status PackageChecker::CheckInventory(const std::string& bytes) {
  // A package of format 1 is recomputed by the rules it was written under.
  const bool format1 = manifest_.format == common::kEvidenceFormat1;
  common::ReconcileContext context{
      .contract_id = manifest_.contract_id,
      .now = manifest_.exported_at,
      .orders = {},
      .refused_attestations = refusals_,
      .rules = format1 ? common::ReconcileRules::kFormat1 : common::ReconcileRules::kCurrent};
  // Which orders are answered is known once every attestation (all parts)
  // was added: the reconciler tells (SetHostsWithoutOrder).
  context.orders = HostOrders();
  reconciler_ = std::make_unique<common::Reconciler>(std::move(context));
  return common::ForEachInventoryRecord(std::string_view(bytes), std::string_view(common::kInventoryMember.data(), common::kInventoryMember.size()),
                                        [&](const common::InventoryRecord& row) -> absl::Status {
    if (row.contract_id != manifest_.contract_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", row.line, ": contract ", row.contract_id, " is not the package's"));
    }
    ++summary_.files;
    vendor_datasets_[row.vendor_id].insert(row.dataset_id);
    return reconciler_->AddExpectedFile({.vendor_id = row.vendor_id,
                                         .dataset_id = row.dataset_id,
                                         .path = row.path,
                                         .sha256 = row.sha256,
                                         .size = row.size});
  });
}

void PackageChecker::SetHostsWithoutOrder() {
  // A package of format 1 lists none.
  if (manifest_.format == common::kEvidenceFormat1) return;
  std::vector<common::HostOrder> host_orders = HostOrders();
  for (common::HostOrder& order : host_orders) {
    order.answered = reconciler_->Answers(order.order_id);
  }
  // Every enrolled host must have been asked, by the rule `terminate` follows.
  std::vector<common::EnrollmentRecord> enrolled;
  for (const auto& [id, agent] : agents_) enrolled.push_back(agent.record);
  reconciler_->SetHostsWithoutOrder(common::HostsOf(common::AgentsWithoutOrder(
      common::SelectOrderRecipients(std::move(enrolled)).agents, host_orders)));
}

absl::Status PackageChecker::CheckSelfAttestation(const std::string&, const std::string& bytes) {
  if (!reconciler_) return absl::InvalidArgumentError("comes before the inventory");
  std::vector<common::TrustedKey> keys;
  for (const common::OfficerRecord& officer : officers_) {
    OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey key,
                              common::Ed25519PublicKey::FromPem(officer.public_key_pem));
    keys.push_back({.keyid = key.KeyId(), .key = key});
  }
  if (keys.empty()) return absl::UnauthenticatedError("no officer key in officers.json");
  const common::DsseVerifier verifier(std::move(keys), 1, {std::string(common::kInTotoPayloadType)});
  OFFBOARD_ASSIGN_OR_RETURN(common::VerifiedPayload verified, verifier.Verify(bytes));
  OFFBOARD_ASSIGN_OR_RETURN(common::InTotoStatement statement,
                            common::ParseStatement(verified.payload));
  if (statement.predicate_type != common::kSelfAttestationPredicateType) {
    return absl::InvalidArgumentError("not a self-attested deletion");
  }
  const auto contract = statement.predicate.find("contract_id");
  if (contract == statement.predicate.end() || !contract->is_string() ||
      *contract != manifest_.contract_id) {
    return absl::InvalidArgumentError("names another contract");
  }
  const std::string& key_id = verified.keyids.front();
  const auto officer =
      std::find_if(officers_.begin(), officers_.end(),
                   [&](const common::OfficerRecord& record) { return record.key_id == key_id; });
  if (officer == officers_.end()) return absl::UnauthenticatedError("signed by an unlisted key");
  // Under format 1 rules a statement on a shared dataset still has effect:
  // such a package is refused, as the verifier of its time refused it.
  OFFBOARD_RETURN_IF_ERROR(common::CheckOfficerScope(
      statement.predicate.value("items", nlohmann::json()), officer->vendor_id, vendor_datasets_,
      manifest_.contract_id,
      manifest_.format == common::kEvidenceFormat1 ? common::SharedDatasets::kRefuse
                                                   : common::SharedDatasets::kIgnore));
  ++summary_.self_attestations;
  return reconciler_->AddSelfAttestation(
      {.officer_key_id = verified.keyids.front(), .predicate = std::move(statement.predicate)});
}

absl::Status PackageChecker::SubmitAttestation(PackageMember& member) {
  const std::string& name = member.name;
  if (!reconciler_) return Fail(name, "attestation", "comes before the inventory");
  const absl::string_view digits =
      absl::string_view(name).substr(common::kAttestationsPrefix.size(), 12);
  uint64_t index = 0;
  if (!absl::SimpleAtoi(digits, &index) || name != common::AttestationMemberName(index)) {
    return Fail(name, "attestation", "not named by a log index");
  }
  const auto receipt = receipts_.find(index);
  if (receipt == receipts_.end()) return Fail(name, "attestation", "has no receipt in the package");
  const KnownOrder& order = orders_.at(receipt->second.order_id);
  AttestationJob job{.name = name,
                     .bytes = std::move(member.bytes),
                     .expected_sha256 = manifest_.members[member.ordinal - 1].sha256,
                     .index = index,
                     .receipt = receipt->second,
                     .order = order,
                     .key = agents_.at(order.agent_id).key};
  in_flight_.push_back(Pool().Submit([job = std::move(job)]() mutable {
    return CheckAttestationJob(std::move(job));
  }));
  attested_.insert(index);
  // A bounded window: memory stays small whatever the package's size.
  return in_flight_.size() > 64 ? TakeAttestations(false) : absl::OkStatus();
}

absl::Status PackageChecker::TakeAttestations(bool all) {
  while (!in_flight_.empty()) {
    absl::StatusOr<CheckedAttestation> checked = in_flight_.front().get();
    in_flight_.pop_front();
    if (!checked.ok()) return checked.status();
    ++summary_.attestations;
    OFFBOARD_RETURN_IF_ERROR(
        At(common::AttestationMemberName(checked->origin.log_index), "certificate",
           certificates_.AddAttestation(checked->origin.agent_id, std::move(checked->facts))));
    reconciler_->AddCheckedAttestation(checked->origin, std::move(checked->items));
    if (!all) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckedAttestation> CheckAttestationJob(AttestationJob job) {
  const auto fail = [&](absl::string_view check, const absl::Status& status) {
    return At(job.name, check, status);
  };
  if (common::DigestHex(common::Sha256Of(job.bytes)) != job.expected_sha256) {
    return Fail(job.name, "manifest digest", "content differs from the manifest's SHA-256");
  }
  if (common::HexEncode(common::LeafHash(std::string_view(job.bytes))) != job.receipt.leaf_hash) {
    return Fail(job.name, "attestation", "its bytes are not the leaf its receipt proves in the log");
  }
  const common::DsseVerifier verifier({{.keyid = job.key.KeyId(), .key = job.key}}, 1,
                                      {std::string(common::kInTotoPayloadType)});
  absl::StatusOr<common::VerifiedPayload> verified = verifier.Verify(job.bytes);
  if (!verified.ok()) {
    return fail(absl::StrCat("signature by the key enrolled for agent ", job.order.agent_id),
                verified.status());
  }
  // The predicate is read where simdjson left it: no tree is built per attestation.
  thread_local simdjson::dom::parser parser;
  absl::StatusOr<common::InTotoStatementView> statement =
      common::ParseStatementView(verified->payload, parser);
  if (!statement.ok()) return fail("statement", statement.status());
  if (statement->predicate_type != common::kDeletionPredicateType) {
    return Fail(job.name, "statement", "not a deletion attestation");
  }
  const common::SimdView predicate = statement->predicate;
  const std::string quoted_order(predicate["order_id"].string());
  if (quoted_order != job.receipt.order_id) {
    return Fail(job.name, "order binding",
                absl::StrCat("quotes order \"", quoted_order, "\", not ", job.receipt.order_id));
  }
  if (predicate["nonce"].string() != job.order.nonce) {
    return Fail(job.name, "order binding", "does not quote its order's nonce");
  }
  if (job.receipt.accepted_at > job.order.expires_at) {
    // The intake accepts a run begun before the deadline and finished
    // after it (the agent crashed and resumed); its start is signed.
    if (!common::RunBeganBy(predicate, job.order.expires_at)) {
      const std::string started(predicate["started_at"].string());
      return Fail(job.name, "order expiry",
                  absl::StrCat("accepted at ", common::UnixToRfc3339(job.receipt.accepted_at),
                               ", after order ", job.receipt.order_id, " expired at ",
                               common::UnixToRfc3339(job.order.expires_at), ", for a run begun at ",
                               started.empty() ? "an unknown time" : started));
    }
  }
  // Reduced here, on the worker, so that the reading thread only adds.
  const common::AttestationOrigin origin{.order_id = job.receipt.order_id,
                                         .agent_id = job.order.agent_id,
                                         .host_id = job.order.host_id,
                                         .vendor_id = job.order.vendor_id,
                                         .log_index = job.index};
  absl::StatusOr<common::CertificateFacts> facts = common::CertificateFactsOf(job.index, predicate);
  if (!facts.ok()) return fail("certificate", facts.status());
  absl::StatusOr<common::CheckedItems> items = common::CheckAttestedItems(origin, predicate);
  if (!items.ok()) return fail("reconciliation", items.status());
  return CheckedAttestation{
      .origin = origin, .items = *std::move(items), .facts = *std::move(facts)};
}

}  // namespace offboard::verify::internal
