#include "controller/intake/self_attestation_intake.h"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto/ed25519.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/intoto/officer_scope.h"
#include "common/intoto/statement.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"

namespace offboard::controller {
namespace {

namespace fs = boost::filesystem;

absl::Status CheckPredicate(const nlohmann::json& predicate, const std::string& contract_id) {
  const auto bad = [](absl::string_view field, absl::string_view problem) {
    return absl::InvalidArgumentError(
        absl::StrCat("self-attestation: field '", field, "': ", problem));
  };
  if (!predicate.is_object()) return bad("predicate", "must be an object");
  if (predicate.value("contract_id", "") != contract_id) {
    return bad("contract_id", absl::StrCat("must be ", contract_id));
  }
  if (!predicate.contains("items") || !predicate["items"].is_array() || predicate["items"].empty()) {
    return bad("items", "must be a non-empty array");
  }
  for (size_t i = 0; i < predicate["items"].size(); ++i) {
    const nlohmann::json& item = predicate["items"][i];
    const std::string field = absl::StrCat("items[", i, "]");
    if (!item.is_object()) return bad(field, "must be an object");
    for (const char* key : {"dataset_id", "location", "statement"}) {
      if (!item.contains(key) || !item[key].is_string() || item[key].get<std::string>().empty()) {
        return bad(absl::StrCat(field, ".", key), "must be a non-empty string");
      }
    }
    if (item.contains("sha256") &&
        (!item["sha256"].is_string() || !common::IsLowerHex(item["sha256"].get<std::string>(), 32))) {
      return bad(absl::StrCat(field, ".sha256"), "must be 64 lowercase hex digits");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OfficerKey> RegisterOfficerKey(const fs::path& officers_dir,
                                              const std::string& vendor_id, const std::string& name,
                                              const std::string& public_key_pem, int64_t now) {
  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey key,
                            common::Ed25519PublicKey::FromPem(public_key_pem));
  if (vendor_id.empty()) return absl::InvalidArgumentError("--vendor must not be empty");
  OfficerKey officer{key.KeyId(), vendor_id, name, key.ToPem()};
  boost::system::error_code error;
  fs::create_directories(officers_dir, error);
  const fs::path pem = officers_dir / (officer.key_id + ".pem");
  if (fs::exists(pem, error)) {
    return absl::AlreadyExistsError(absl::StrCat("officer key ", officer.key_id, " is already registered"));
  }
  const nlohmann::json meta = {{"key_id", officer.key_id},
                               {"vendor_id", vendor_id},
                               {"name", name},
                               {"registered_at", now}};
  OFFBOARD_RETURN_IF_ERROR(
      common::WriteFileAtomically(officers_dir / (officer.key_id + ".json"), meta.dump(2) + "\n", 0644));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(pem, officer.public_key_pem, 0644));
  common::AuditEvent("officer_key_registered",
                     {{"key_id", officer.key_id}, {"vendor_id", vendor_id}, {"name", name}});
  return officer;
}

absl::StatusOr<std::vector<OfficerKey>> OfficerKeysOf(const fs::path& officers_dir,
                                                      const std::string& vendor_id) {
  std::vector<OfficerKey> keys;
  boost::system::error_code error;
  if (!fs::is_directory(officers_dir, error)) return keys;
  for (const fs::directory_entry& entry : fs::directory_iterator(officers_dir, error)) {
    if (entry.path().extension() != ".json") continue;
    OFFBOARD_ASSIGN_OR_RETURN(std::string text, common::ReadFileToString(entry.path()));
    const nlohmann::json meta = nlohmann::json::parse(text, nullptr, false);
    if (!meta.is_object() || meta.value("vendor_id", "") != vendor_id) continue;
    fs::path pem = entry.path();
    pem.replace_extension(".pem");
    OFFBOARD_ASSIGN_OR_RETURN(std::string key_pem, common::ReadFileToString(pem));
    keys.push_back({meta.value("key_id", ""), vendor_id, meta.value("name", ""), std::move(key_pem)});
  }
  return keys;
}

absl::StatusOr<OfficerKey> AcceptSelfAttestation(ControllerStore& store,
                                                 const fs::path& officers_dir,
                                                 const std::string& contract_id,
                                                 const std::string& envelope, int64_t now) {
  common::DatasetsByVendor datasets_of_vendor;
  OFFBOARD_RETURN_IF_ERROR(
      store.ForEachInventoryFile(contract_id, [&](const InventoryFileRow& row) {
        datasets_of_vendor[row.vendor_id].insert(row.dataset_id);
        return absl::OkStatus();
      }));
  if (datasets_of_vendor.empty()) {
    return absl::NotFoundError(absl::StrCat("contract ", contract_id, ": no inventory"));
  }
  std::vector<common::TrustedKey> trusted;
  std::vector<OfficerKey> officers;
  for (const auto& [vendor, datasets] : datasets_of_vendor) {
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<OfficerKey> keys, OfficerKeysOf(officers_dir, vendor));
    for (OfficerKey& officer : keys) {
      OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey key,
                                common::Ed25519PublicKey::FromPem(officer.public_key_pem));
      trusted.push_back({officer.key_id, std::move(key)});
      officers.push_back(std::move(officer));
    }
  }
  if (trusted.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "contract ", contract_id, ": no officer key is registered for its vendor; register one "
                                  "with `offboard-controller officer add`"));
  }
  common::DsseVerifier verifier(std::move(trusted), 1, {std::string(common::kInTotoPayloadType)});
  absl::StatusOr<common::VerifiedPayload> verified = verifier.Verify(envelope);
  if (!verified.ok()) {
    // A statement no registered officer signed is refused input, like a
    // forged envelope at the command line: PERMISSION_DENIED, nothing stored.
    if (absl::IsUnauthenticated(verified.status())) {
      return absl::PermissionDeniedError(
          absl::StrCat("self-attestation for contract ", contract_id,
                       ": not signed by an officer key registered for the contract's vendor"));
    }
    return verified.status();
  }
  OFFBOARD_ASSIGN_OR_RETURN(common::InTotoStatement statement,
                            common::ParseStatement(verified->payload));
  if (statement.predicate_type != common::kSelfAttestationPredicateType) {
    return absl::InvalidArgumentError(absl::StrCat("self-attestation: predicate type ",
                                                   statement.predicate_type, " is not ",
                                                   common::kSelfAttestationPredicateType));
  }
  OFFBOARD_RETURN_IF_ERROR(CheckPredicate(statement.predicate, contract_id));
  const std::string& key_id = verified->keyids.front();
  const auto signer =
      std::find_if(officers.begin(), officers.end(),
                   [&](const OfficerKey& officer) { return officer.key_id == key_id; });
  if (signer == officers.end()) return absl::InternalError("verified by an unknown key");
  const absl::Status scope = common::CheckOfficerScope(
      statement.predicate["items"], signer->vendor_id, datasets_of_vendor, contract_id);
  if (!scope.ok()) {
    return absl::Status(scope.code(), absl::StrCat("self-attestation: ", scope.message()));
  }
  OFFBOARD_RETURN_IF_ERROR(store.PutSelfAttestation(
      {.contract_id = contract_id, .officer_key_id = key_id, .envelope = envelope, .accepted_at = now}));
  common::AuditEvent("self_attestation_accepted", {{"contract_id", contract_id}, {"officer_key_id", key_id}});
  return *signer;
}

}  // namespace offboard::controller
