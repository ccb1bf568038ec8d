#include "agent/cli/self_attest_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/intoto/statement.h"
#include "common/io/write_file.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

constexpr absl::string_view kProgram = "offboard-agent self-attest";

struct SelfAttestOptions {
  std::string key;
  std::string contract;
  std::string officer;
  std::vector<std::string> items;  // DATASET or DATASET:SHA256
  std::string location;
  std::string statement;
  std::string out;
};

absl::Status SelfAttest(const SelfAttestOptions& options) {
  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PrivateKey key,
                            common::Ed25519PrivateKey::Load(options.key));
  nlohmann::json items = nlohmann::json::array();
  common::InTotoStatement statement;
  statement.predicate_type = std::string(common::kSelfAttestationPredicateType);
  for (const std::string& item : options.items) {
    const std::vector<std::string> parts = absl::StrSplit(item, absl::MaxSplits(':', 1));
    nlohmann::json entry = {{"dataset_id", parts[0]},
                            {"location", options.location},
                            {"statement", options.statement}};
    if (parts[0].empty()) return absl::InvalidArgumentError(absl::StrCat("--item '", item, "': no dataset"));
    if (parts.size() == 2) {
      if (!common::IsLowerHex(parts[1], 32)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--item '", item, "': the sha256 must be 64 lowercase hex digits"));
      }
      entry["sha256"] = parts[1];
      statement.subjects.push_back({.name = parts[0], .digest = {{"sha256", parts[1]}}});
    }
    items.push_back(std::move(entry));
  }
  if (statement.subjects.empty()) {
    // in-toto needs a subject: the statement itself is about the location.
    statement.subjects.push_back(
        {.name = options.location,
         .digest = {{"sha256", common::DigestHex(common::Sha256Of(options.location))}}});
  }
  statement.predicate = {{"contract_id", options.contract},
                         {"officer", options.officer},
                         {"items", items}};
  const std::string envelope = common::SerializeDsseEnvelope(
      common::SignDsse(common::kInTotoPayloadType, common::SerializeStatement(statement), key));
  return common::WriteFileAtomically(options.out, envelope, 0644);
}

}  // namespace

void AddSelfAttestCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "self-attest",
      "For a vendor officer: sign a statement that the bank's data was deleted where no agent "
      "can reach (tape backups, a SaaS tenant). The bank registers the officer's public key and "
      "accepts the file with `offboard-controller self-attest`; it shows as self_attested, "
      "never as wiped.");
  auto options = std::make_shared<SelfAttestOptions>();
  sub->add_option("--key", options->key, "the officer's Ed25519 private key (PEM, 0600)")->required();
  sub->add_option("--contract", options->contract, "the contract")->required();
  sub->add_option("--officer", options->officer, "the officer's name and role")->required();
  sub->add_option("--item", options->items,
                  "DATASET (every file of it) or DATASET:SHA256 (one file); repeat")
      ->required();
  sub->add_option("--location", options->location, "where the data was")->required();
  sub->add_option("--statement", options->statement, "what was done, when and how")->required();
  sub->add_option("--out", options->out, "where to write the signed envelope")->required();
  sub->callback([&action, options] {
    action = [options] {
      const absl::Status status = SelfAttest(*options);
      if (!status.ok()) return common::ReportError(kProgram, status);
      std::cout << "signed self-attestation written to " << options->out << "\n";
      return common::kExitDone;
    };
  });
}

}  // namespace offboard::agent
