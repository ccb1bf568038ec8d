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
#include "verify/package_checker.h"

namespace offboard::verify {
namespace internal {

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
  const bool attestation = absl::StartsWith(name, common::kAttestationsPrefix);
  if (trusted_before) OFFBOARD_RETURN_IF_ERROR(CheckDigest(member, !attestation));
  if (member.ordinal == 1) {
    if (name != common::kControllerKeyMember) {
      return Fail(name, "order", "the second member must be trust/controller.pub.pem");
    }
    OFFBOARD_RETURN_IF_ERROR(CheckControllerKey(member.bytes));
  }
  if (!trusted_before) OFFBOARD_RETURN_IF_ERROR(CheckDigest(member, !attestation));
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
    for (const common::OfficerRecord& officer : *officers) {
      absl::StatusOr<common::Ed25519PublicKey> key =
          common::Ed25519PublicKey::FromPem(officer.public_key_pem);
      if (!key.ok()) return At(name, absl::StrCat("officer key ", officer.key_id), key.status());
      if (key->KeyId() != officer.key_id) {
        return Fail(name, absl::StrCat("officer key ", officer.key_id), "key_id is not its key's");
      }
      summary_.signing_keys.push_back(absl::StrCat("officer ", officer.name, " (vendor ",
                                                   officer.vendor_id, "): ", officer.key_id));
    }
    officers_ = *std::move(officers);
    return absl::OkStatus();
  }
  if (name == common::kRefusalsMember) {
    absl::StatusOr<std::vector<common::RefusalRecord>> refusals = common::RefusalsFromJson(bytes);
    if (!refusals.ok()) return At(name, "refusals", refusals.status());
    refusals_ = refusals->size();
    return absl::OkStatus();
  }
  if (absl::StartsWith(name, common::kOrdersPrefix)) return SubmitOrder(member);
  OFFBOARD_RETURN_IF_ERROR(TakeOrders(true));
  if (name == common::kTreeHeadsMember) return At(name, "tree heads", CheckTreeHeads(bytes));
  if (absl::StartsWith(name, common::kReceiptsPrefix)) return At(name, "receipt", CheckReceipt(name, bytes));
  if (name == common::kInventoryMember) return At(name, "inventory", CheckInventory(bytes));
  if (absl::StartsWith(name, common::kSelfAttestationsPrefix)) {
    return At(name, "self-attestation", CheckSelfAttestation(name, bytes));
  }
  if (attestation) return SubmitAttestation(member);
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

absl::Status PackageChecker::CheckDigest(const PackageMember& member, bool hash) {
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
      (hash && entry.sha256 != common::DigestHex(common::Sha256Of(member.bytes)))) {
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
  summary_.format = manifest_.format;
  summary_.exported_at = manifest_.exported_at;
  summary_.organization = manifest_.organization;
  summary_.controller_key_id = controller_key_->KeyId();
  return absl::OkStatus();
}

absl::Status PackageChecker::CheckRecomputed(const std::string& name, const std::string& bytes) {
  if (!reconciliation_) {
    if (!reconciler_) return Fail(name, "order", "comes before the inventory");
    OFFBOARD_RETURN_IF_ERROR(TakeAttestations(true));
    for (const auto& [index, receipt] : receipts_) {
      if (!attested_.contains(index)) {
        return Fail(common::ReceiptMemberName(index), "receipt", "its attestation is missing");
      }
    }
    SetHostsWithoutOrder();
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
  if (options_.known_head) OFFBOARD_RETURN_IF_ERROR(CheckKnownHead());
  const common::Reconciliation& r = *reconciliation_;
  summary_.orders = orders_.size();
  summary_.refusals = refusals_;
  summary_.attestation_runs = r.accepted_runs;
  summary_.verdict = r.verdict;
  summary_.assurance_floor = r.assurance_floor;
  summary_.reasons = r.reasons;
  return summary_;
}

}  // namespace internal

absl::StatusOr<PackageSummary> CheckEvidencePackage(const boost::filesystem::path& package,
                                                    const PackageCheckOptions& options) {
  internal::PackageChecker checker(options);
  size_t seen = 0;
  OFFBOARD_RETURN_IF_ERROR(common::ReadEvidencePackage(
      package, options.limits, [&](common::PackageMember& member) {
        ++seen;
        return checker.OnMember(member);
      }));
  if (seen == 0) return internal::Fail(package.string(), "package", "holds no member");
  OFFBOARD_RETURN_IF_ERROR(checker.TakeAll());
  return checker.Finish(seen);
}

}  // namespace offboard::verify

