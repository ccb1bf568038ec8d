#include "controller/cli/self_attestation_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "common/io/read_file.h"
#include "controller/cli/controller_home.h"
#include "controller/intake/self_attestation_intake.h"
#include "controller/service/controller_services.h"

namespace offboard::controller {
namespace {

constexpr uint64_t kMaxEnvelopeBytes = 16 << 20;

struct OfficerOptions {
  std::string data_dir;
  std::string vendor;
  std::string name;
  std::string key;
};

struct SelfAttestOptions {
  std::string data_dir;
  std::string contract;
  std::string envelope;
};

int AddOfficer(const OfficerOptions& options) {
  constexpr absl::string_view kProgram = "offboard-controller officer add";
  absl::StatusOr<ControllerHome> home = OpenControllerHome(options.data_dir);
  if (!home.ok()) return common::ReportError(kProgram, home.status());
  absl::StatusOr<std::string> pem = common::ReadFileToString(options.key, 1 << 20);
  if (!pem.ok()) return common::ReportError(kProgram, pem.status());
  absl::StatusOr<OfficerKey> officer = RegisterOfficerKey(
      home->paths.dir / "officers", options.vendor, options.name, *pem, SystemNow());
  if (!officer.ok()) return common::ReportError(kProgram, officer.status());
  std::cout << "officer key " << officer->key_id << " registered for vendor " << options.vendor
            << "\n";
  return common::kExitDone;
}

int SelfAttest(const SelfAttestOptions& options) {
  constexpr absl::string_view kProgram = "offboard-controller self-attest";
  absl::StatusOr<ControllerHome> home = OpenControllerHome(options.data_dir);
  if (!home.ok()) return common::ReportError(kProgram, home.status());
  absl::StatusOr<std::string> envelope =
      common::ReadFileToString(options.envelope, kMaxEnvelopeBytes);
  if (!envelope.ok()) return common::ReportError(kProgram, envelope.status());
  absl::StatusOr<OfficerKey> officer = AcceptSelfAttestation(
      *home->store, home->paths.dir / "officers", options.contract, *envelope, SystemNow());
  if (!officer.ok()) return common::ReportError(kProgram, officer.status());
  std::cout << "self-attestation for contract " << options.contract << " accepted, signed by "
            << officer->name << " (" << officer->key_id << ", vendor " << officer->vendor_id
            << "); its files show as self_attested, never as wiped\n";
  return common::kExitDone;
}

}  // namespace

void AddOfficerCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* officer = app.add_subcommand("officer", "Vendor officers who may self-attest.");
  officer->require_subcommand(1);
  CLI::App* sub = officer->add_subcommand(
      "add", "Register a vendor officer's Ed25519 public key (PEM); only registered keys can sign "
             "self-attestations for that vendor's contracts.");
  auto options = std::make_shared<OfficerOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--vendor", options->vendor, "the vendor the officer speaks for")->required();
  sub->add_option("--name", options->name, "the officer's name and role")->required();
  sub->add_option("--key", options->key, "the officer's public key (PEM)")->required();
  sub->callback([&action, options] { action = [options] { return AddOfficer(*options); }; });
}

void AddSelfAttestCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "self-attest",
      "Accept a vendor officer's signed self-attestation (DSSE, in-toto) for places no agent "
      "can reach, such as tape backups or a SaaS tenant. Its files show as self_attested.");
  auto options = std::make_shared<SelfAttestOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--contract", options->contract, "the contract it is for")->required();
  sub->add_option("envelope", options->envelope, "the DSSE envelope file")->required();
  sub->callback([&action, options] { action = [options] { return SelfAttest(*options); }; });
}

}  // namespace offboard::controller
