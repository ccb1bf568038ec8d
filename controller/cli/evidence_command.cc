#include "controller/cli/evidence_command.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/io/read_file.h"
#include "common/log/audit.h"
#include "controller/cli/controller_home.h"
#include "controller/evidence/evidence_export.h"
#include "controller/service/controller_services.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller evidence";

struct EvidenceOptions {
  std::string data_dir;
  std::string contract;
  std::string out;
  std::string organization;
  std::string officer;
  std::string since_head;  // a file, when given
};

int Evidence(const EvidenceOptions& options) {
  absl::StatusOr<ControllerHome> home = OpenControllerHome(options.data_dir);
  if (!home.ok()) return common::ReportError(kProgram, home.status());
  std::optional<std::string> since_head;  // an empty file is a head that fails, not none
  if (!options.since_head.empty()) {
    absl::StatusOr<std::string> read = common::ReadFileToString(options.since_head, 1 << 20);
    if (!read.ok()) return common::ReportError(kProgram, read.status());
    since_head = *std::move(read);
  }
  absl::StatusOr<ExportSummary> summary =
      ExportEvidence(*home, {.contract_id = options.contract,
                             .out = options.out,
                             .now = SystemNow(),
                             .organization = options.organization,
                             .officer = options.officer,
                             .since_head = since_head});
  if (!summary.ok()) return common::ReportError(kProgram, summary.status());
  common::AuditEvent("evidence_exported",
                     {{"contract_id", options.contract},
                      {"package", options.out},
                      {"verdict", common::VerdictName(summary->verdict)},
                      {"attestations", absl::StrCat(summary->attestations)}});
  std::cout << "evidence package " << options.out << ": contract " << options.contract << ", "
            << summary->members << " members, " << summary->attestations
            << " attestations, log size " << summary->tree_size << ", verdict "
            << common::VerdictName(summary->verdict) << "\n"
            << "check it offline with: offboard-verify " << options.out
            << " --controller-key " << home->paths.PublicKey().string() << "\n";
  return common::kExitDone;
}

}  // namespace

void AddEvidenceCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "evidence",
      "Export a contract's evidence package (.tar.gz) for a regulator: inventory, signed orders, "
      "every attestation accepted by the export's time as received, with its receipt and "
      "inclusion proof, signed tree heads "
      "with consistency proofs, the reconciliation (JSON, CSV) and an HTML report with a "
      "certificate of sanitization per host, under a manifest signed by the controller. "
      "offboard-verify checks it offline. An existing file is never overwritten.");
  auto options = std::make_shared<EvidenceOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--contract", options->contract, "the contract to export")->required();
  sub->add_option("--out", options->out, "the package to write (PKG.tar.gz)")->required();
  sub->add_option("--organization", options->organization,
                  "the bank's name, shown on the certificates of sanitization");
  sub->add_option("--officer", options->officer,
                  "the person exporting, shown on the certificates of sanitization");
  sub->add_option("--since-head", options->since_head,
                  "a signed tree head the regulator kept from an earlier package (offboard-verify "
                  "--save-head writes one): the package proves this log extends it, for "
                  "offboard-verify --known-head")
      ->check(CLI::ExistingFile);
  sub->callback([&action, options] { action = [options] { return Evidence(*options); }; });
}

}  // namespace offboard::controller
