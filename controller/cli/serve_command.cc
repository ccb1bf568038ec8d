#include "controller/cli/serve_command.h"

#include <signal.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log/audit.h"
#include "controller/cli/controller_home.h"
#include "controller/server/controller_server.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller serve";

struct ServeCommandOptions {
  std::string data_dir;
  std::string listen;
  int grace_seconds = 10;
};

int Serve(const ServeCommandOptions& options) {
  // SIGTERM and SIGINT are taken by sigwait below, in this thread only: block
  // them before gRPC starts its threads, which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<ControllerHome> home = OpenControllerHome(options.data_dir);
  if (!home.ok()) return common::ReportError(kProgram, home.status());
  absl::StatusOr<std::unique_ptr<ControllerServer>> server =
      ControllerServer::Start(*home, ServeOptions{.listen = options.listen});
  if (!server.ok()) return common::ReportError(kProgram, server.status());
  std::cout << "serving on port " << (*server)->port() << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  common::AuditEvent("controller_stopping", {{"signal", absl::StrCat(signal_number)}});
  (*server)->Shutdown(std::chrono::seconds(options.grace_seconds));
  return common::kExitDone;
}

}  // namespace

void AddServeCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "serve",
      "Run the gRPC server (mutual TLS only) for agents: enrollment, wipe orders, attestations. "
      "Stops gracefully on SIGTERM or SIGINT.");
  auto options = std::make_shared<ServeCommandOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--listen", options->listen, "ADDR:PORT to listen on (port 0: any free port)")
      ->required();
  sub->add_option("--grace", options->grace_seconds,
                  "seconds running calls may take to finish on shutdown")
      ->default_val(10);
  sub->callback([&action, options] { action = [options] { return Serve(*options); }; });
}

}  // namespace offboard::controller
