#include "agent/cli/approve_command.h"

#include <pwd.h>
#include <unistd.h>

#include <boost/filesystem/operations.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "agent/service/plan_approval.h"
#include "agent/wipe/deletion_attestation.h"

namespace offboard::agent {
namespace {

constexpr char kProgram[] = "offboard-agent approve";
constexpr size_t kTargetsShown = 20;

struct ApproveCommandOptions {
  std::string order_id;
  std::string data_dir;
  std::string by;
};

// Who is approving when --by is not given: the login name, else the name of
// the effective user.
std::string LoginUser() {
  char name[256] = {};
  if (::getlogin_r(name, sizeof(name) - 1) == 0 && name[0] != '\0') return name;
  if (const passwd* entry = ::getpwuid(::geteuid());
      entry != nullptr && entry->pw_name != nullptr) {
    return entry->pw_name;
  }
  return "uid " + std::to_string(::geteuid());
}

int Approve(const ApproveCommandOptions& options) {
  const std::string by =
      std::string(absl::StripAsciiWhitespace(options.by.empty() ? LoginUser() : options.by));
  absl::StatusOr<ApprovedPlan> approved = ApprovePlan(boost::filesystem::absolute(options.data_dir),
                                                      options.order_id, by, NowRfc3339());
  if (!approved.ok()) return common::ReportError(kProgram, approved.status());
  std::cout << DescribePlanDocument(approved->document, kTargetsShown) << "approved by "
            << approved->approval.approved_by << " at " << approved->approval.approved_at
            << ": plan sha256 " << approved->approval.plan_sha256 << "\n"
            << "recorded in " << approved->approval_path.string() << "\n"
            << "the agent wipes by this plan at its next step (`offboard-agent run --approve-plan` "
               "looks every second); should its new scan find anything else, it writes a new plan "
               "and waits for approval again\n";
  return common::kExitDone;
}

}  // namespace

void AddApproveCommand(CLI::App& app, common::CommandAction& action) {
  CLI::App* sub = app.add_subcommand(
      "approve",
      "Approve the wipe plan of ORDER that `offboard-agent run --approve-plan` wrote to "
      "--data-dir/orders/ORDER/plan.json: prints what the plan does (how many whole files, "
      "archive members and derived copies, which action each file on disk gets) and records "
      "the approval (who, when, and the plan's SHA-256) in orders/ORDER/approval.json. The agent "
      "wipes only by exactly that plan: if its scan before wiping finds anything else, it writes "
      "a new plan and waits again. Exit 2 for an order the agent has not taken or that has no "
      "plan yet.");
  auto options = std::make_shared<ApproveCommandOptions>();
  sub->add_option("ORDER", options->order_id, "the order id, as `run` printed it")->required();
  sub->add_option("--data-dir", options->data_dir, "the agent's state directory")->required();
  sub->add_option("--by", options->by, "who approves (default: the login user)");
  sub->callback([&action, options] { action = [options] { return Approve(*options); }; });
}

}  // namespace offboard::agent
