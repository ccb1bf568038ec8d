#include "verify/cli/verify_cli.h"

#include <boost/filesystem/operations.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cli/command_line.h"
#include "common/evidence/evidence_package.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "verify/cli/envelope_command.h"
#include "verify/package_check.h"

namespace offboard::verify {
namespace {

struct PackageOptions {
  std::string package;
  std::string controller_key;
  std::string known_head;  // files, when given
  std::string save_head;
};

void PrintSummary(const PackageSummary& s) {
  std::cout << "contract " << s.contract_id << " (vendor " << s.vendor_id << "), exported "
            << common::UnixToRfc3339(s.exported_at)
            << (s.organization.empty() ? "" : absl::StrCat(" by ", s.organization)) << "\n"
            << "  controller key  " << s.controller_key_id
            << (s.controller_key_given ? " (the key you gave)"
                                       : " (taken from the package: compare it with the bank's "
                                         "published key, or pass --controller-key)")
            << "\n"
            << "  format          " << s.format
            << (s.format == common::kEvidenceFormat1
                    ? " (an older format, recomputed by its rules: copies matched whatever the "
                      "vendor, no check that every enrolled host had an order)"
                    : "")
            << "\n"
            << "  manifest        signed; " << s.members << " members, every SHA-256 matches\n"
            << "  enrollments     " << s.enrollments
            << " agents, certificates issued by the package's CA\n"
            << "  orders          " << s.orders << " signed by the controller\n"
            << "  attestations    " << s.attestations
            << " signed by their enrolled agents, bound to their orders and nonces,\n"
            << "                  accepted in time, while the agent was not banned and its "
               "certificate valid\n"
            << (s.attestation_runs != s.attestations
                    ? absl::StrCat("                  (", s.attestation_runs,
                                   s.attestation_runs == 1 ? " wipe run" : " wipe runs",
                                   ": an attestation too large for one message is sent in "
                                   "parts)\n")
                    : "")
            << "  self-attested   " << s.self_attestations << " officer statements\n"
            << "  refusals        " << s.refusals << "\n"
            << "  log             " << s.tree_heads << " signed tree heads, consistent; every "
            << "inclusion proof holds; latest size " << s.tree_size << " root " << s.root_hex
            << "\n"
            << (s.known_head_size ? absl::StrCat("  known head      size ", *s.known_head_size,
                                                 ": this log extends it\n")
                                  : "")
            << "  reconciliation  recomputed from the attestations and " << s.files
            << " inventory files: equals the package's JSON, CSV and report\n"
            << "verdict: " << common::VerdictName(s.verdict) << " (assurance floor "
            << (s.assurance_floor ? common::AssuranceName(*s.assurance_floor) : "none") << ")\n";
  for (const std::string& reason : s.reasons) std::cout << "  - " << reason << "\n";
  std::cout << "signing keys, vouched for by the controller key alone (compare them with the "
               "vendor's own records):\n";
  for (const std::string& key : s.signing_keys) std::cout << "  " << key << "\n";
}

// The last line and the exit code: 0 only when the package holds, proves the
// contract complete, and is tied to the key the auditor gave. A script that
// runs `offboard-verify PKG && accept` must not accept an incomplete
// contract, nor a package anyone could have made with a fresh controller.
int Conclude(const PackageSummary& s) {
  if (!s.controller_key_given) {
    std::cerr << "offboard-verify: warning: checked only against the controller key inside the "
                 "package, which anyone can make; pass --controller-key with the key the bank "
                 "published\n";
  }
  if (s.verdict != common::Verdict::kVerifiedComplete) {
    std::cout << "OK: the package holds, but its verdict is " << common::VerdictName(s.verdict)
              << ": it does not prove that the data was deleted\n";
    return common::kExitAttention;
  }
  if (!s.controller_key_given) {
    std::cout << "OK: the package holds, but it is not tied to the bank's controller key\n";
    return common::kExitAttention;
  }
  std::cout << "OK: the package holds\n";
  return common::kExitDone;
}

int CheckPackage(const PackageOptions& options) {
  // A path that names no file is a usage error, not a package that fails.
  for (const std::string& path : {options.package, options.controller_key, options.known_head}) {
    boost::system::error_code ec;
    if (!path.empty() && !boost::filesystem::is_regular_file(path, ec)) {
      return common::ReportError("offboard-verify",
                                 absl::NotFoundError(absl::StrCat(path, ": no such file")));
    }
  }
  PackageCheckOptions check;
  if (!options.controller_key.empty()) check.controller_key = options.controller_key;
  if (!options.known_head.empty()) {
    absl::StatusOr<std::string> head = common::ReadFileToString(options.known_head, 1 << 20);
    if (!head.ok()) return common::ReportError("offboard-verify", head.status());
    check.known_head = *std::move(head);  // an empty file fails the check, never skips it
  }
  absl::StatusOr<PackageSummary> summary = CheckEvidencePackage(options.package, check);
  if (!summary.ok()) {
    std::cerr << "offboard-verify: " << options.package << ": FAILED\n";
    common::ReportError("offboard-verify", summary.status());
    return common::kExitAttention;  // whatever failed: the package does not hold
  }
  PrintSummary(*summary);
  if (!options.save_head.empty()) {
    if (summary->latest_head.empty()) {
      std::cerr << "offboard-verify: --save-head: the package's log has no signed head\n";
      return common::kExitAttention;
    }
    // Written only once the package held: it is the head to pass as
    // --known-head with the next package.
    if (absl::Status saved = common::WriteFileAtomically(options.save_head, summary->latest_head);
        !saved.ok()) {
      return common::ReportError("offboard-verify", saved);
    }
    std::cout << "  saved head      size " << summary->tree_size << " to " << options.save_head
              << "\n";
  }
  return Conclude(*summary);
}

}  // namespace

int RunVerifyCli(int argc, char** argv) {
  CLI::App app(
      "Offboard verifier: checks an Offboard evidence package offline, on the auditor's own "
      "machine, without access to the bank's or the vendor's systems. It trusts the controller "
      "key given with --controller-key, and through it the agents' and officers' keys the "
      "package lists (printed, to compare with the vendor's own records). It checks the signed "
      "manifest and "
      "every digest, every signature, order and nonce binding, inclusion and consistency "
      "proof, that every time fits the controller's rules (an order issued after its agent "
      "enrolled; an attestation accepted after its order was issued, before it "
      "expired unless its run began before, before the export, before any ban, within the "
      "agent's certificate), and the verdict recomputed from the raw attestations. Exit 0 only "
      "when "
      "everything holds, the verdict is verified_complete and --controller-key was given; 1 "
      "when anything does not hold (the first member and check at fault is named), the verdict "
      "is incomplete or discrepancy, or the package was checked only against its own key; 2 "
      "for a usage error or a file that does not exist.",
      "offboard-verify");
  app.set_version_flag("--version", "offboard-verify " OFFBOARD_VERSION);
  app.require_subcommand(0, 1);
  auto options = std::make_shared<PackageOptions>();
  app.add_option("PKG", options->package, "the evidence package (.tar.gz)");
  app.add_option("--controller-key", options->controller_key,
                 "the controller's public key (PEM), as published by the bank");
  app.add_option("--known-head", options->known_head,
                 "a signed tree head kept from an earlier package (--save-head): the package "
                 "must prove that its log extends it (the bank exports with --since-head), so "
                 "that the log was not rewritten or shown differently to different parties");
  app.add_option("--save-head", options->save_head,
                 "once the package holds, write its latest signed tree head to this file, to "
                 "pass as --known-head with the next package (give --controller-key too: "
                 "otherwise only the package's own key vouches for the head)");
  common::CommandAction action;
  AddEnvelopeCommand(app, action);
  app.callback([&app, &action, options] {
    if (!app.get_subcommands().empty()) return;
    if (options->package.empty()) throw CLI::RequiredError("PKG");
    action = [options] { return CheckPackage(*options); };
  });
  return common::RunCommandLine(app, action, argc, argv);
}

}  // namespace offboard::verify
