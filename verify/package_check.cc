#include "verify/package_check.h"

#include <openssl/x509.h>

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
#include "common/reconcile/reconciler.h"
#include "common/reconcile/reconciliation_report.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"
#include "common/tls/agent_identity.h"
#include "common/tls/x509.h"

namespace offboard::verify {
namespace {

using common::PackageMember;

struct KnownOrder {
  std::string nonce;
  std::string agent_id;
  std::string host_id;
  int64_t expires_at = 0;
};

struct KnownAgent {
  common::EnrollmentRecord record;
  common::Ed25519PublicKey key;
};

// Prefixes a failure with the member and the check at fault.
absl::Status At(absl::string_view member, absl::string_view check, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(member, ": ", check, ": ", status.message()));
}
absl::Status Fail(absl::string_view member, absl::string_view check, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(member, ": ", check, ": ", why));
}

class PackageChecker {
 public:
  explicit PackageChecker(const PackageCheckOptions& options) : options_(options) {}

  absl::Status OnMember(PackageMember& member);
  absl::StatusOr<PackageSummary> Finish(size_t members_seen);

 private:
  absl::Status CheckManifest(const std::string& bytes);
  absl::Status CheckDigest(const PackageMember& member);
  absl::Status CheckControllerKey(const std::string& pem);
  absl::Status VerifyManifest(const common::Ed25519PublicKey& key);
  absl::Status CheckEnrollments(const std::string& bytes);
  absl::Status CheckOrder(const std::string& name, const std::string& bytes);
  absl::Status CheckTreeHeads(const std::string& bytes);
  absl::Status CheckReceipt(const std::string& name, const std::string& bytes);
  absl::Status CheckInventory(const std::string& bytes);
  absl::Status CheckSelfAttestation(const std::string& name, const std::string& bytes);
  absl::Status CheckAttestation(const std::string& name, const std::string& bytes);
  absl::Status CheckRecomputed(const std::string& name, const std::string& bytes);

  const PackageCheckOptions& options_;
  PackageSummary summary_;
  common::DsseEnvelope manifest_envelope_;
  common::Manifest manifest_;
  std::optional<common::Ed25519PublicKey> controller_key_;
  common::UniqueX509 ca_;
  int last_section_ = 0;
  std::map<std::string, KnownAgent> agents_;
  std::vector<common::OfficerRecord> officers_;
  uint64_t refusals_ = 0;
  std::map<std::string, KnownOrder> orders_;
  std::vector<std::string> order_sequence_;
  std::map<uint64_t, common::MerkleHash> heads_;  // tree size -> root
  std::map<uint64_t, common::ReceiptRecord> receipts_;
  std::set<uint64_t> attested_;
  std::unique_ptr<common::Reconciler> reconciler_;
  common::HostCertificateBuilder certificates_;
  std::optional<common::Reconciliation> reconciliation_;
  std::set<int> sections_seen_;
};

absl::Status PackageChecker::OnMember(PackageMember& member) {
  const std::string& name = member.name;
  if (member.ordinal == 0) {
    if (name != common::kManifestMember) {
      return Fail(name, "order", "the first member must be manifest.json");
    }
    return At(name, "manifest", CheckManifest(member.bytes));
  }
  // The packaged key comes right after the manifest, so that the manifest is
  // trusted before anything is checked against it; with the auditor's key it
  // is trusted already.
  const bool trusted_before = controller_key_.has_value();
  if (trusted_before) OFFBOARD_RETURN_IF_ERROR(CheckDigest(member));
  if (member.ordinal == 1) {
    if (name != common::kControllerKeyMember) {
      return Fail(name, "order", "the second member must be trust/controller.pub.pem");
    }
    OFFBOARD_RETURN_IF_ERROR(CheckControllerKey(member.bytes));
  }
  if (!trusted_before) OFFBOARD_RETURN_IF_ERROR(CheckDigest(member));
  const int section = common::EvidenceSection(name);
  if (section < last_section_) return Fail(name, "order", "member out of its section's place");
  last_section_ = section;
  sections_seen_.insert(section);
  const std::string& bytes = member.bytes;
  if (name == common::kControllerKeyMember) return absl::OkStatus();
  if (name == common::kCaCertificateMember) {
    absl::StatusOr<common::UniqueX509> ca = common::ParseCertificatePem(bytes);
    if (!ca.ok()) return At(name, "CA certificate", ca.status());
    ca_ = *std::move(ca);
    return absl::OkStatus();
  }
  if (name == common::kEnrollmentsMember) return At(name, "enrollments", CheckEnrollments(bytes));
  if (name == common::kOfficersMember) {
    absl::StatusOr<std::vector<common::OfficerRecord>> officers = common::OfficersFromJson(bytes);
    if (!officers.ok()) return At(name, "officers", officers.status());
    officers_ = *std::move(officers);
    return absl::OkStatus();
  }
  if (name == common::kRefusalsMember) {
    absl::StatusOr<std::vector<common::RefusalRecord>> refusals = common::RefusalsFromJson(bytes);
    if (!refusals.ok()) return At(name, "refusals", refusals.status());
    refusals_ = refusals->size();
    return absl::OkStatus();
  }
  if (absl::StartsWith(name, common::kOrdersPrefix)) return At(name, "wipe order", CheckOrder(name, bytes));
  if (name == common::kTreeHeadsMember) return At(name, "tree heads", CheckTreeHeads(bytes));
  if (absl::StartsWith(name, common::kReceiptsPrefix)) return At(name, "receipt", CheckReceipt(name, bytes));
  if (name == common::kInventoryMember) return At(name, "inventory", CheckInventory(bytes));
  if (absl::StartsWith(name, common::kSelfAttestationsPrefix)) {
    return At(name, "self-attestation", CheckSelfAttestation(name, bytes));
  }
  if (absl::StartsWith(name, common::kAttestationsPrefix)) {
    return At(name, "attestation", CheckAttestation(name, bytes));
  }
  return CheckRecomputed(name, bytes);
}

absl::Status PackageChecker::CheckManifest(const std::string& bytes) {
  OFFBOARD_ASSIGN_OR_RETURN(manifest_envelope_, common::ParseDsseEnvelope(bytes));
  if (manifest_envelope_.payload_type != common::kManifestPayloadType) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload type \"", manifest_envelope_.payload_type, "\" is not a manifest"));
  }
  // Trusted only once the controller key (the next member, or the auditor's)
  // verifies it; until then it only says what comes.
  if (common::SerializeDsseEnvelope(manifest_envelope_) != bytes) {
    // DSSE leaves key ids and encoding unsigned: only the form the
    // controller writes is accepted, so that no byte of it can change.
    return absl::InvalidArgumentError("not in the canonical form the controller signs");
  }
  OFFBOARD_ASSIGN_OR_RETURN(manifest_, common::ManifestFromJson(manifest_envelope_.payload));
  summary_.members = manifest_.members.size() + 1;
  if (options_.controller_key) {
    OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey given,
                              common::Ed25519PublicKey::Load(*options_.controller_key));
    OFFBOARD_RETURN_IF_ERROR(At("signature", "the controller key given", VerifyManifest(given)));
    controller_key_ = given;
    summary_.controller_key_given = true;
  }
  return absl::OkStatus();
}

absl::Status PackageChecker::VerifyManifest(const common::Ed25519PublicKey& key) {
  if (manifest_envelope_.signatures.size() != 1 ||
      manifest_envelope_.signatures.front().keyid != key.KeyId()) {
    return absl::UnauthenticatedError(
        absl::StrCat("not signed by the controller key ", key.KeyId(), " alone"));
  }
  const common::DsseVerifier verifier({{.keyid = key.KeyId(), .key = key}}, 1,
                                      {std::string(common::kManifestPayloadType)});
  OFFBOARD_RETURN_IF_ERROR(verifier.Verify(manifest_envelope_).status());
  if (manifest_.controller_key_id != key.KeyId()) {
    return absl::InvalidArgumentError("names another controller key than the one that signed it");
  }
  return absl::OkStatus();
}

absl::Status PackageChecker::CheckDigest(const PackageMember& member) {
  const size_t index = member.ordinal - 1;
  if (index >= manifest_.members.size()) {
    return Fail(member.name, "manifest", "not listed in the manifest (a member was added)");
  }
  const common::ManifestEntry& entry = manifest_.members[index];
  if (entry.name != member.name) {
    return Fail(member.name, "manifest",
                absl::StrCat("the manifest lists \"", entry.name,
                             "\" here (a member was removed, added or reordered)"));
  }
  if (entry.size != member.bytes.size() ||
      entry.sha256 != common::DigestHex(common::Sha256Of(member.bytes))) {
    return Fail(member.name, "manifest digest", "content differs from the manifest's SHA-256");
  }
  return absl::OkStatus();
}

absl::Status PackageChecker::CheckControllerKey(const std::string& pem) {
  absl::StatusOr<common::Ed25519PublicKey> packaged = common::Ed25519PublicKey::FromPem(pem);
  if (!packaged.ok()) return At(common::kControllerKeyMember, "controller key", packaged.status());
  if (controller_key_) {
    if (controller_key_->KeyId() != packaged->KeyId()) {
      return absl::UnauthenticatedError(absl::StrCat(
          common::kControllerKeyMember, ": controller key: the package's key ", packaged->KeyId(),
          " is not the controller key given (", controller_key_->KeyId(), ")"));
    }
  } else {
    OFFBOARD_RETURN_IF_ERROR(At(common::kManifestMember, "signature", VerifyManifest(*packaged)));
    controller_key_ = *packaged;
  }
  summary_.contract_id = manifest_.contract_id;
  summary_.vendor_id = manifest_.vendor_id;
  summary_.exported_at = manifest_.exported_at;
  summary_.organization = manifest_.organization;
  summary_.controller_key_id = controller_key_->KeyId();
  return absl::OkStatus();
}

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
    const std::string agent_id = record.agent_id;
    if (!agents_.emplace(agent_id, KnownAgent{std::move(record), std::move(key)}).second) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": enrolled twice"));
    }
  }
  summary_.enrollments = agents_.size();
  return absl::OkStatus();
}

absl::Status PackageChecker::CheckOrder(const std::string& name, const std::string& bytes) {
  OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::WipeOrder order,
                            common::VerifyWipeOrderSignature(bytes, *controller_key_));
  if (name != common::OrderMemberName(order.order_id())) {
    return absl::InvalidArgumentError(absl::StrCat("holds order ", order.order_id()));
  }
  if (order.contract_id() != manifest_.contract_id) {
    return absl::InvalidArgumentError(absl::StrCat("order for contract ", order.contract_id(),
                                                   ", not ", manifest_.contract_id));
  }
  const auto agent = agents_.find(order.agent_id());
  if (agent == agents_.end() || agent->second.record.host_id != order.host_id() ||
      agent->second.record.vendor_id != order.vendor_id()) {
    return absl::InvalidArgumentError(absl::StrCat("addressed to agent ", order.agent_id(),
                                                   ", not enrolled for that vendor and host"));
  }
  orders_[order.order_id()] = {.nonce = order.nonce_hex(),
                               .agent_id = order.agent_id(),
                               .host_id = order.host_id(),
                               .expires_at = order.expires_at().seconds()};
  order_sequence_.push_back(order.order_id());
  return absl::OkStatus();
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
  }
  summary_.tree_heads = heads.size();
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

absl::Status PackageChecker::CheckInventory(const std::string& bytes) {
  std::set<std::string> answered;
  for (const auto& [index, receipt] : receipts_) answered.insert(receipt.order_id);
  common::ReconcileContext context{.contract_id = manifest_.contract_id,
                                   .now = manifest_.exported_at,
                                   .orders = {},
                                   .refused_attestations = refusals_};
  for (const std::string& id : order_sequence_) {
    const KnownOrder& order = orders_[id];
    context.orders.push_back({.order_id = id,
                              .host_id = order.host_id,
                              .agent_id = order.agent_id,
                              .expires_at = order.expires_at,
                              .answered = answered.contains(id)});
  }
  reconciler_ = std::make_unique<common::Reconciler>(std::move(context));
  return common::ForEachInventoryRecord(std::string_view(bytes), std::string_view(common::kInventoryMember.data(), common::kInventoryMember.size()),
                                        [&](const common::InventoryRecord& row) -> absl::Status {
    if (row.contract_id != manifest_.contract_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", row.line, ": contract ", row.contract_id, " is not the package's"));
    }
    ++summary_.files;
    return reconciler_->AddExpectedFile(
        {.dataset_id = row.dataset_id, .path = row.path, .sha256 = row.sha256, .size = row.size});
  });
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
  ++summary_.self_attestations;
  return reconciler_->AddSelfAttestation(
      {.officer_key_id = verified.keyids.front(), .predicate = std::move(statement.predicate)});
}

absl::Status PackageChecker::CheckAttestation(const std::string& name, const std::string& bytes) {
  if (!reconciler_) return absl::InvalidArgumentError("comes before the inventory");
  const absl::string_view digits = absl::string_view(name).substr(
      common::kAttestationsPrefix.size(), 12);
  uint64_t index = 0;
  if (!absl::SimpleAtoi(digits, &index) || name != common::AttestationMemberName(index)) {
    return absl::InvalidArgumentError("not named by a log index");
  }
  const auto receipt = receipts_.find(index);
  if (receipt == receipts_.end()) return absl::InvalidArgumentError("has no receipt in the package");
  if (common::HexEncode(common::LeafHash(std::string_view(bytes))) != receipt->second.leaf_hash) {
    return absl::InvalidArgumentError(
        "its bytes are not the leaf its receipt proves in the log");
  }
  const KnownOrder& order = orders_.at(receipt->second.order_id);
  const KnownAgent& agent = agents_.at(order.agent_id);
  const common::DsseVerifier verifier({{.keyid = agent.key.KeyId(), .key = agent.key}}, 1,
                                      {std::string(common::kInTotoPayloadType)});
  absl::StatusOr<common::VerifiedPayload> verified = verifier.Verify(bytes);
  if (!verified.ok()) {
    return At("signature", absl::StrCat("key enrolled for agent ", order.agent_id),
              verified.status());
  }
  OFFBOARD_ASSIGN_OR_RETURN(common::InTotoStatement statement,
                            common::ParseStatement(verified->payload));
  if (statement.predicate_type != common::kDeletionPredicateType) {
    return absl::InvalidArgumentError("not a deletion attestation");
  }
  const nlohmann::json& predicate = statement.predicate;
  const auto quoted = [&](const char* key) -> std::string {
    const auto it = predicate.find(key);
    return it != predicate.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (quoted("order_id") != receipt->second.order_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("quotes order \"", quoted("order_id"), "\", not ", receipt->second.order_id));
  }
  if (quoted("nonce") != order.nonce) {
    return absl::InvalidArgumentError("does not quote its order's nonce");
  }
  OFFBOARD_RETURN_IF_ERROR(
      certificates_.AddAttestation(order.agent_id, index, predicate));
  attested_.insert(index);
  ++summary_.attestations;
  return reconciler_->AddAttestation({.order_id = receipt->second.order_id,
                                      .agent_id = order.agent_id,
                                      .host_id = order.host_id,
                                      .log_index = index,
                                      .predicate = std::move(statement.predicate)});
}

absl::Status PackageChecker::CheckRecomputed(const std::string& name, const std::string& bytes) {
  if (!reconciliation_) {
    if (!reconciler_) return Fail(name, "order", "comes before the inventory");
    for (const auto& [index, receipt] : receipts_) {
      if (!attested_.contains(index)) {
        return Fail(common::ReceiptMemberName(index), "receipt", "its attestation is missing");
      }
    }
    reconciliation_ = std::move(*reconciler_).Finish();
    reconciler_.reset();
  }
  const common::Reconciliation& r = *reconciliation_;
  std::string expected;
  if (name == common::kReconciliationJsonMember) {
    std::ostringstream out;
    common::WriteReconciliationJson(r, out);
    expected = out.str();
  } else if (name == common::kReconciliationCsvMember) {
    expected = common::ReconciliationCsv(r);
  } else {
    expected = common::RenderPackageReport(r, manifest_, summary_.tree_size, summary_.root_hex,
                                           std::move(certificates_).Finish());
    certificates_ = {};
  }
  if (bytes != expected) {
    return Fail(name, "recomputed", absl::StrCat("differs from what the attestations and inventory give (verdict ",
                                                 common::VerdictName(r.verdict), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PackageSummary> PackageChecker::Finish(size_t members_seen) {
  if (!controller_key_) {
    return Fail(common::kManifestMember, "manifest", "the package holds no signed manifest");
  }
  if (members_seen != summary_.members) {
    return Fail(manifest_.members[members_seen - 1].name, "manifest",
                "listed in the manifest but missing from the package (a member was removed)");
  }
  for (const absl::string_view required :
       {common::kControllerKeyMember, common::kCaCertificateMember, common::kEnrollmentsMember,
        common::kOfficersMember, common::kRefusalsMember, common::kTreeHeadsMember,
        common::kInventoryMember, common::kReconciliationJsonMember,
        common::kReconciliationCsvMember, common::kReportMember}) {
    if (!sections_seen_.contains(common::EvidenceSection(required))) {
      return Fail(required, "manifest", "missing from the package");
    }
  }
  const common::Reconciliation& r = *reconciliation_;
  summary_.orders = orders_.size();
  summary_.refusals = refusals_;
  summary_.verdict = r.verdict;
  summary_.assurance_floor = r.assurance_floor;
  summary_.reasons = r.reasons;
  return summary_;
}

}  // namespace

absl::StatusOr<PackageSummary> CheckEvidencePackage(const boost::filesystem::path& package,
                                                    const PackageCheckOptions& options) {
  PackageChecker checker(options);
  size_t seen = 0;
  OFFBOARD_RETURN_IF_ERROR(common::ReadEvidencePackage(
      package, options.limits, [&](PackageMember& member) {
        ++seen;
        return checker.OnMember(member);
      }));
  if (seen == 0) return Fail(package.string(), "package", "holds no member");
  return checker.Finish(seen);
}

}  // namespace offboard::verify
