#include "agent/cli/enroll_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "agent/service/enrollment.h"

namespace offboard::agent {
namespace {

struct EnrollCommandOptions {
  std::string controller;
  std::string token;
  std::string ca;
  std::string data_dir;
  std::string hostname;
};

int Enroll(const EnrollCommandOptions& options) {
  absl::StatusOr<Enrollment> enrolled = EnrollAgent({.controller = options.controller,
                                                     .token = options.token,
                                                     .ca_file = options.ca,
                                                     .data_dir = options.data_dir,
                                                     .hostname = options.hostname});
  if (!enrolled.ok()) {
    // A wrong, used or expired token is bad input: nothing was enrolled.
    absl::Status status = enrolled.status();
    if (status.code() == absl::StatusCode::kUnauthenticated) {
      status = absl::PermissionDeniedError(status.message());
    }
    return common::ReportError("offboard-agent enroll", status);
  }
  std::cout << "enrolled agent " << enrolled->agent_id << " (vendor " << enrolled->vendor_id
            << ", host " << enrolled->host_id << ") with " << options.controller << "\n"
            << "data dir: " << options.data_dir << "\n";
  return common::kExitDone;
}

}  // namespace

void AddEnrollCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "enroll",
      "Enroll this host with the controller: create the attestation key (if missing) and a TLS "
      "key, send a certificate request with a single-use token from `offboard-controller token`, "
      "and save the client certificate, the controller's CA and its order-signing key in "
      "--data-dir. Refuses a data dir that is already enrolled.");
  auto options = std::make_shared<EnrollCommandOptions>();
  sub->add_option("--controller", options->controller, "the controller's HOST:PORT")->required();
  sub->add_option("--token", options->token, "the enrollment token (single use, expires)")
      ->required();
  sub->add_option("--ca", options->ca,
                  "the controller's CA certificate (PEM), obtained out of band, e.g. from the "
                  "controller's data dir ca/ca.pem")
      ->required();
  sub->add_option("--data-dir", options->data_dir,
                  "agent state directory; created with mode 0700 if missing")
      ->required();
  sub->add_option("--hostname", options->hostname,
                  "this host's name as reported to the controller (default: gethostname)");
  sub->callback([&action, options] { action = [options] { return Enroll(*options); }; });
}

}  // namespace offboard::agent
