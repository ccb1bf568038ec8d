#include "verify/envelope_check.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <boost/filesystem/operations.hpp>

#include "absl/strings/str_cat.h"
#include "common/dsse/envelope.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::verify {
namespace {

constexpr std::uintmax_t kMaxEnvelopeBytes = 64u << 20;

absl::Status Prefixed(const boost::filesystem::path& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(path.string(), ": ", status.message()));
}

absl::StatusOr<std::string> ReadBounded(const boost::filesystem::path& path) {
  boost::system::error_code error;
  const std::uintmax_t size = boost::filesystem::file_size(path, error);
  if (error) {
    return common::ErrnoToStatus(error.value(), absl::StrCat("read ", path.string()));
  }
  if (size > kMaxEnvelopeBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path.string(), ": ", size, " bytes is over the limit of ", kMaxEnvelopeBytes));
  }
  std::ifstream in(path.string(), std::ios::binary);
  if (!in) return common::ErrnoToStatus(errno, absl::StrCat("open ", path.string()));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace

absl::StatusOr<EnvelopeCheckResult> CheckEnvelopeFile(
    const boost::filesystem::path& envelope_path,
    const std::vector<boost::filesystem::path>& public_key_paths, size_t threshold) {
  std::vector<common::TrustedKey> trusted;
  for (const boost::filesystem::path& key_path : public_key_paths) {
    OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey key,
                              common::Ed25519PublicKey::Load(key_path));
    trusted.push_back({.keyid = key.KeyId(), .key = key});
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::string envelope_json, ReadBounded(envelope_path));
  const common::DsseVerifier verifier(std::move(trusted), threshold,
                                      {std::string(common::kInTotoPayloadType)});
  absl::StatusOr<common::VerifiedPayload> verified = verifier.Verify(envelope_json);
  if (!verified.ok()) return Prefixed(envelope_path, verified.status());
  absl::StatusOr<common::InTotoStatement> statement =
      common::ParseStatement(verified->payload);
  if (!statement.ok()) return Prefixed(envelope_path, statement.status());
  return EnvelopeCheckResult{.signer_key_ids = verified->keyids,
                             .statement = *std::move(statement)};
}

}  // namespace offboard::verify
