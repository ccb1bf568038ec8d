// The agent's attestation key: the Ed25519 key in the agent's data directory
// that signs its deletion attestations. Enrollment registers its public half
// with the controller; decommissioning destroys it.
//
// Not thread-safe with respect to the file system: call from one thread at
// start-up.
#ifndef OFFBOARD_AGENT_IDENTITY_AGENT_KEY_H_
#define OFFBOARD_AGENT_IDENTITY_AGENT_KEY_H_

#include <boost/filesystem/path.hpp>

#include "absl/status/statusor.h"
#include "common/crypto/ed25519.h"

namespace offboard::agent {

boost::filesystem::path AttestationKeyPath(const boost::filesystem::path& data_dir);
boost::filesystem::path AttestationPublicKeyPath(const boost::filesystem::path& data_dir);

struct AgentKey {
  common::Ed25519PrivateKey key;
  bool created = false;  // true when this call generated it
};

// Creates `data_dir` (mode 0700) if missing, then loads the attestation key or
// generates it, saving the private key (0600) and its public PEM beside it.
// Errors name the path: PERMISSION_DENIED for a key readable by others,
// INVALID_ARGUMENT for a file that is not an Ed25519 PEM key,
// FAILED_PRECONDITION for a decommissioned data directory.
absl::StatusOr<AgentKey> LoadOrCreateAttestationKey(const boost::filesystem::path& data_dir);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_IDENTITY_AGENT_KEY_H_
