// Vendor self-attestations (issue 5): for places no agent can reach (tape
// backups, a SaaS tenant), a vendor officer signs an in-toto statement of the
// self-attested deletion predicate with an Ed25519 key the bank registered
// for that vendor. Accepted statements are stored byte for byte and shown as
// `self_attested` — never as `wiped`.
//
// Officer keys live in the controller's data directory, one per file:
//   DIR/officers/<key id>.pem   the public key (SubjectPublicKeyInfo PEM)
//   DIR/officers/<key id>.json  {"key_id", "vendor_id", "name", "registered_at"}
//
// The predicate:
//   {"contract_id": "...", "officer": "...", "items": [{"dataset_id": "...",
//    "sha256": "<hex>"?, "location": "...", "statement": "..."}]}
// An item without sha256 covers every file of its dataset.
//
// Thread-compatible: plain functions over the store and the directory.
#ifndef OFFBOARD_CONTROLLER_INTAKE_SELF_ATTESTATION_INTAKE_H_
#define OFFBOARD_CONTROLLER_INTAKE_SELF_ATTESTATION_INTAKE_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "controller/store/store.h"

namespace offboard::controller {

struct OfficerKey {
  std::string key_id;
  std::string vendor_id;
  std::string name;
  std::string public_key_pem;
};

// Registers `public_key_pem` as an officer key of `vendor_id` under
// `officers_dir`. INVALID_ARGUMENT for a key that is not Ed25519;
// ALREADY_EXISTS when the key is registered (to whichever vendor).
absl::StatusOr<OfficerKey> RegisterOfficerKey(const boost::filesystem::path& officers_dir,
                                              const std::string& vendor_id, const std::string& name,
                                              const std::string& public_key_pem, int64_t now);

// The keys registered for `vendor_id`.
absl::StatusOr<std::vector<OfficerKey>> OfficerKeysOf(const boost::filesystem::path& officers_dir,
                                                      const std::string& vendor_id);

// Verifies and stores a self-attestation for `contract_id`: signed by an
// officer key of the contract's vendor (PERMISSION_DENIED otherwise), of the
// self-attested predicate, naming this contract and well-formed items
// (INVALID_ARGUMENT naming the field). Returns the officer key that signed.
absl::StatusOr<OfficerKey> AcceptSelfAttestation(ControllerStore& store,
                                                 const boost::filesystem::path& officers_dir,
                                                 const std::string& contract_id,
                                                 const std::string& envelope, int64_t now);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_INTAKE_SELF_ATTESTATION_INTAKE_H_
