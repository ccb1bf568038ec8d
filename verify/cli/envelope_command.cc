#include "verify/cli/envelope_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "verify/envelope_check.h"

namespace offboard::verify {
namespace {

struct EnvelopeOptions {
  std::string envelope;
  std::vector<std::string> keys;
  size_t threshold = 1;
};

int CheckEnvelope(const EnvelopeOptions& options) {
  const std::vector<boost::filesystem::path> keys(options.keys.begin(), options.keys.end());
  absl::StatusOr<EnvelopeCheckResult> result =
      CheckEnvelopeFile(options.envelope, keys, options.threshold);
  if (!result.ok()) return common::ReportError("offboard-verify envelope", result.status());
  std::cout << options.envelope << ": signature OK\n";
  for (const std::string& key_id : result->signer_key_ids) {
    std::cout << "signed_by: " << key_id << "\n";
  }
  std::cout << "predicate_type: " << result->statement.predicate_type << "\n"
            << "subjects: " << result->statement.subjects.size() << "\n";
  for (const common::InTotoSubject& subject : result->statement.subjects) {
    std::cout << "  " << subject.name;
    for (const auto& [algorithm, digest] : subject.digest) {
      std::cout << " " << algorithm << ":" << digest;
    }
    std::cout << "\n";
  }
  return common::kExitDone;
}

}  // namespace

void AddEnvelopeCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "envelope",
      "Check one DSSE envelope holding an in-toto statement (such as the attestation "
      "written by `offboard-agent wipe`) against trusted Ed25519 public keys; print "
      "its signers and subjects. Exit 0 only when enough trusted keys signed it.");
  auto options = std::make_shared<EnvelopeOptions>();
  sub->add_option("ENVELOPE", options->envelope, "the DSSE envelope JSON file")->required();
  sub->add_option("--key", options->keys, "trusted public key (PEM); repeat for several")
      ->required();
  sub->add_option("--threshold", options->threshold, "distinct trusted keys that must have signed")
      ->default_val(1)
      ->check(CLI::PositiveNumber);
  sub->callback([&action, options] { action = [options] { return CheckEnvelope(*options); }; });
}

}  // namespace offboard::verify
