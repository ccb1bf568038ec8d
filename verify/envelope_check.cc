#include "verify/envelope_check.h"

#include "absl/strings/str_cat.h"
#include "common/dsse/envelope.h"
#include "common/io/read_file.h"
#include "common/status/status_macros.h"

namespace offboard::verify {
namespace {

constexpr std::uintmax_t kMaxEnvelopeBytes = 64u << 20;

absl::Status Prefixed(const boost::filesystem::path& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(path.string(), ": ", status.message()));
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
  OFFBOARD_ASSIGN_OR_RETURN(std::string envelope_json,
                            common::ReadFileToString(envelope_path, kMaxEnvelopeBytes));
  const common::DsseVerifier verifier(std::move(trusted), threshold,
                                      {std::string(common::kInTotoPayloadType)});
  absl::StatusOr<common::VerifiedPayload> verified = verifier.Verify(envelope_json);
  if (!verified.ok()) return Prefixed(envelope_path, verified.status());
  absl::StatusOr<common::InTotoStatement> statement = common::ParseStatement(verified->payload);
  if (!statement.ok()) return Prefixed(envelope_path, statement.status());
  return EnvelopeCheckResult{.signer_key_ids = verified->keyids,
                             .statement = *std::move(statement)};
}

}  // namespace offboard::verify
