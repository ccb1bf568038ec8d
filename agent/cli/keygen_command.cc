#include "agent/cli/keygen_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "agent/identity/agent_key.h"

namespace offboard::agent {
namespace {

struct KeygenOptions {
  std::string data_dir;
};

int Keygen(const KeygenOptions& options) {
  absl::StatusOr<AgentKey> agent_key = LoadOrCreateAttestationKey(options.data_dir);
  if (!agent_key.ok()) return common::ReportError("offboard-agent keygen", agent_key.status());
  std::cout << (agent_key->created ? "created" : "existing") << " attestation key\n"
            << "key_id: " << agent_key->key.KeyId() << "\n"
            << "public_key: " << AttestationPublicKeyPath(options.data_dir).string() << "\n";
  return common::kExitDone;
}

}  // namespace

void AddKeygenCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "keygen",
      "Create the agent's Ed25519 attestation key in --data-dir if it does not exist, "
      "and print its key id (SHA-256 of the public key). Never overwrites a key.");
  auto options = std::make_shared<KeygenOptions>();
  sub->add_option("--data-dir", options->data_dir,
                  "agent state directory; created with mode 0700 if missing")
      ->required();
  sub->callback([&action, options] { action = [options] { return Keygen(*options); }; });
}

}  // namespace offboard::agent
