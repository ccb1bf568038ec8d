#include "controller/cli/init_command.h"

#include <boost/filesystem/operations.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/ed25519.h"
#include "common/status/status_macros.h"
#include "controller/cli/controller_home.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller init";

struct InitOptions {
  std::string data_dir;
  std::vector<std::string> hostnames;
};

absl::Status Init(const InitOptions& options, std::string* summary) {
  std::vector<std::string> hostnames = options.hostnames;
  if (hostnames.empty()) hostnames = {"localhost", "127.0.0.1", "::1"};
  OFFBOARD_RETURN_IF_ERROR(InitControllerHome(options.data_dir, hostnames));
  const ControllerPaths paths(boost::filesystem::absolute(options.data_dir));
  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PublicKey key,
                            common::Ed25519PublicKey::Load(paths.PublicKey()));
  *summary = absl::StrCat("initialized ", paths.dir.string(), "\n",
                          "controller key: ", key.KeyId(), " (", paths.PublicKey().string(), ")\n",
                          "CA certificate: ", (paths.CaDir() / "ca.pem").string(), "\n",
                          "server certificate for: ", absl::StrJoin(hostnames, ", "), "\n");
  return absl::OkStatus();
}

}  // namespace

void AddInitCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "init",
      "Create the controller's data directory: the SQLite database, the Ed25519 key that signs "
      "wipe orders and tree heads, the controller's own CA (ECDSA P-256) and a TLS server "
      "certificate for the given host names. Refuses a directory that is already initialized.");
  auto options = std::make_shared<InitOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--hostname", options->hostnames,
                  "DNS name or IP address agents use to reach the controller; repeat for several "
                  "(default: localhost, 127.0.0.1, ::1)");
  sub->callback([&action, options] {
    action = [options] {
      std::string summary;
      const absl::Status status = Init(*options, &summary);
      if (!status.ok()) return common::ReportError(kProgram, status);
      std::cout << summary;
      return common::kExitDone;
    };
  });
}

}  // namespace offboard::controller
