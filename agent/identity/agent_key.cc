#include "agent/identity/agent_key.h"

#include <sys/stat.h>

#include <boost/filesystem/operations.hpp>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "agent/identity/decommission_record.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {

boost::filesystem::path AttestationKeyPath(const boost::filesystem::path& data_dir) {
  return data_dir / "attestation-ed25519.pem";
}

boost::filesystem::path AttestationPublicKeyPath(const boost::filesystem::path& data_dir) {
  return data_dir / "attestation-ed25519.pub.pem";
}

absl::StatusOr<AgentKey> LoadOrCreateAttestationKey(const boost::filesystem::path& data_dir) {
  // A decommissioned directory's key is gone for good; a new one must not
  // quietly take its place.
  OFFBOARD_RETURN_IF_ERROR(CheckNotDecommissioned(data_dir));
  if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return common::ErrnoToStatus(errno, absl::StrCat("create data dir ", data_dir.string()));
  }
  bool created = false;
  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PrivateKey key,
                            common::LoadOrCreateEd25519Key(AttestationKeyPath(data_dir), &created));
  AgentKey result{.key = std::move(key), .created = created};
  const boost::filesystem::path public_path = AttestationPublicKeyPath(data_dir);
  if (result.created || !boost::filesystem::exists(public_path)) {
    OFFBOARD_RETURN_IF_ERROR(
        common::WriteFileAtomically(public_path, result.key.PublicKey().ToPem()));
  }
  if (result.created) {
    common::AuditEvent(
        "attestation_key_created",
        {{"key_id", result.key.KeyId()}, {"path", AttestationKeyPath(data_dir).string()}});
  }
  return result;
}

}  // namespace offboard::agent
