#include "controller/cli/token_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/random.h"
#include "common/crypto/sha256.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"
#include "controller/cli/controller_home.h"
#include "controller/service/controller_services.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller token";

struct TokenOptions {
  std::string data_dir;
  std::string vendor;
  std::string host;
  std::string ttl = "24h";
};

// "90s", "30m", "24h", "7d" as seconds.
absl::StatusOr<int64_t> ParseDuration(absl::string_view text) {
  if (text.size() >= 2) {
    int64_t value = 0;
    const char unit = text.back();
    const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (scale != 0 && absl::SimpleAtoi(text.substr(0, text.size() - 1), &value) && value > 0 &&
        value <= 366 * 86400 / scale) {
      return value * scale;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--ttl '", text, "': expected a positive duration like 90s, 30m, 24h or 7d"));
}

absl::StatusOr<std::string> MakeToken(const TokenOptions& options) {
  OFFBOARD_ASSIGN_OR_RETURN(const int64_t ttl, ParseDuration(options.ttl));
  // Refused now rather than at enrollment, where no certificate could be
  // issued for them.
  if (absl::Status valid = common::ValidateVendorAndHost(options.vendor, options.host);
      !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--vendor/--host: ", valid.message()));
  }
  OFFBOARD_ASSIGN_OR_RETURN(ControllerHome home, OpenControllerHome(options.data_dir));
  OFFBOARD_ASSIGN_OR_RETURN(const std::string token, common::RandomHex(32));
  const int64_t now = SystemNow();
  EnrollmentToken row;
  row.token_sha256_hex = common::DigestHex(common::Sha256Of(token));
  row.vendor_id = options.vendor;
  row.host_id = options.host;
  row.created_at = now;
  row.expires_at = now + ttl;
  OFFBOARD_RETURN_IF_ERROR(home.store->PutToken(row));
  common::AuditEvent("enrollment_token_issued", {{"vendor_id", options.vendor},
                                                 {"host_id", options.host},
                                                 {"expires_at", absl::StrCat(row.expires_at)}});
  return token;
}

}  // namespace

void AddTokenCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "token",
      "Print a single-use enrollment token for one vendor host. Give it to the vendor over a "
      "secure channel; the agent spends it with `offboard-agent enroll`. Only its hash is "
      "stored.");
  auto options = std::make_shared<TokenOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("--vendor", options->vendor, "vendor id the agent will belong to")->required();
  sub->add_option("--host", options->host, "host id of the vendor machine")->required();
  sub->add_option("--ttl", options->ttl, "how long the token stays valid (90s, 30m, 24h, 7d)")
      ->default_val("24h");
  sub->callback([&action, options] {
    action = [options] {
      absl::StatusOr<std::string> token = MakeToken(*options);
      if (!token.ok()) return common::ReportError(kProgram, token.status());
      std::cout << *token << "\n";
      return common::kExitDone;
    };
  });
}

}  // namespace offboard::controller
