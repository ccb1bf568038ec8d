// Checks an evidence package (common/evidence/evidence_package.h) offline,
// trusting nothing in it but the controller key — given by the auditor, or
// else the package's own, which the summary then says:
//
//   - the manifest's signature by the controller key, and every member's size
//     and SHA-256 against it, in order, nothing missing or added;
//   - every enrollment's client certificate issued by the package's CA to the
//     agent identity recorded, and its attestation key id;
//   - every wipe order signed by the controller, for this contract, addressed
//     to an enrolled agent of the vendor;
//   - every signed tree head, the consistency proofs between them, and every
//     receipt's inclusion proof against its head;
//   - every attestation: its leaf hash is the receipt's, its DSSE signature is
//     by the key enrolled for the receipt's agent, its statement quotes the
//     order id and nonce of the order it answers;
//   - every self-attestation signed by a registered officer of the vendor,
//     for this contract;
//   - the reconciliation (JSON, CSV) and the HTML report, recomputed from the
//     raw attestations and the inventory, equal to the package's byte for byte.
//
//   absl::StatusOr<PackageSummary> summary = CheckEvidencePackage(path, {});
//
// A failure names the first member and check at fault: INVALID_ARGUMENT
// "attestations/000000000003.dsse.json: signature: ..." (DATA_LOSS for a
// truncated or corrupt archive, UNAUTHENTICATED for a bad signature or a key
// other than the one given). Bounded memory apart from the inventory and the
// reconciliation; reads the package once. Thread-compatible.
#ifndef OFFBOARD_VERIFY_PACKAGE_CHECK_H_
#define OFFBOARD_VERIFY_PACKAGE_CHECK_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/evidence/package_reader.h"
#include "common/reconcile/reconciliation.h"

namespace offboard::verify {

struct PackageCheckOptions {
  // The controller's public key (PEM) as the auditor obtained it; without
  // it, the key inside the package is used and the summary says so.
  std::optional<boost::filesystem::path> controller_key;
  common::PackageLimits limits = {};
  // A signed tree head the auditor kept from before (exact text), when
  // given: the package must hold a head of its size with its root, which
  // its consistency proofs tie to the latest, so that this log extends the
  // one the auditor saw. The bank exports such a package with --since-head.
  std::optional<std::string> known_head = {};
};

struct PackageSummary {
  std::string contract_id;
  std::string vendor_id;
  std::string format;  // the manifest's, e.g. "offboard-evidence/2"
  int64_t exported_at = 0;
  std::string organization;
  std::string controller_key_id;
  bool controller_key_given = false;  // checked against the auditor's key
  uint64_t members = 0;
  uint64_t enrollments = 0;
  uint64_t orders = 0;
  uint64_t attestations = 0;      // signed envelopes: an attestation in parts counts each
  uint64_t attestation_runs = 0;  // the wipe runs they belong to
  uint64_t self_attestations = 0;
  uint64_t refusals = 0;
  uint64_t tree_heads = 0;
  uint64_t tree_size = 0;  // of the latest head
  std::string root_hex;
  std::string latest_head;  // the latest signed head, exact text, to keep for the next package
  std::optional<uint64_t> known_head_size;  // when a known head was checked
  common::Verdict verdict = common::Verdict::kIncomplete;
  std::optional<common::Assurance> assurance_floor;
  uint64_t files = 0;
  std::vector<std::string> reasons;  // why the verdict is not verified_complete
  // Every agent's and officer's signing key, as "agent A (vendor V, host H):
  // KEYID". Only the controller key vouches for them: an auditor who wants
  // more compares them with the vendor's own records.
  std::vector<std::string> signing_keys;
};

absl::StatusOr<PackageSummary> CheckEvidencePackage(const boost::filesystem::path& package,
                                                    const PackageCheckOptions& options);

}  // namespace offboard::verify

#endif  // OFFBOARD_VERIFY_PACKAGE_CHECK_H_
