// Offline check of one DSSE attestation envelope against trusted public keys:
// what an auditor runs on a single attestation written by `offboard-agent
// wipe` in standalone mode. Uses common/ only, never controller code.
//
// Thread-safe: pure function over files.
#ifndef OFFBOARD_VERIFY_ENVELOPE_CHECK_H_
#define OFFBOARD_VERIFY_ENVELOPE_CHECK_H_

#include <boost/filesystem/path.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/intoto/statement.h"

namespace offboard::verify {

struct EnvelopeCheckResult {
  std::vector<std::string> signer_key_ids;
  common::InTotoStatement statement;
};

// Reads the envelope at `envelope_path` (at most 64 MiB) and the PEM public
// keys, requires `threshold` distinct keys to have signed an in-toto payload,
// and parses the statement. Errors name the file at fault: NOT_FOUND for a
// missing file, INVALID_ARGUMENT for a malformed envelope, key or statement,
// UNAUTHENTICATED for signatures that do not verify.
absl::StatusOr<EnvelopeCheckResult> CheckEnvelopeFile(
    const boost::filesystem::path& envelope_path,
    const std::vector<boost::filesystem::path>& public_key_paths, size_t threshold);

}  // namespace offboard::verify

#endif  // OFFBOARD_VERIFY_ENVELOPE_CHECK_H_
