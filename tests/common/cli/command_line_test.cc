#include "common/cli/command_line.h"

#include <gtest/gtest.h>

namespace offboard::common {
namespace {

int RunProg(std::vector<std::string> args, int* ran = nullptr) {
  CLI::App app("test program", "prog");
  app.require_subcommand(1);
  CommandAction action;
  auto* sub = app.add_subcommand("do", "does it");
  auto value = std::make_shared<int>(0);
  sub->add_option("--value", *value)->required();
  sub->callback([&action, value, ran] {
    action = [value, ran] {
      if (ran != nullptr) *ran = *value;
      return *value == 7 ? kExitDone : kExitAttention;
    };
  });
  std::vector<char*> argv;
  args.insert(args.begin(), "prog");
  for (std::string& arg : args) argv.push_back(arg.data());
  return RunCommandLine(app, action, static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLineTest, RunsTheChosenAction) {
  int ran = 0;
  EXPECT_EQ(RunProg({"do", "--value", "7"}, &ran), kExitDone);
  EXPECT_EQ(ran, 7);
  EXPECT_EQ(RunProg({"do", "--value", "8"}), kExitAttention);
}

TEST(CommandLineTest, HelpExitsZero) {
  EXPECT_EQ(RunProg({"--help"}), kExitDone);
  EXPECT_EQ(RunProg({"do", "--help"}), kExitDone);
}

TEST(CommandLineTest, BadUsageExitsTwo) {
  EXPECT_EQ(RunProg({}), kExitBadInput);
  EXPECT_EQ(RunProg({"nope"}), kExitBadInput);
  EXPECT_EQ(RunProg({"do"}), kExitBadInput);
  EXPECT_EQ(RunProg({"do", "--value", "x"}), kExitBadInput);
  EXPECT_EQ(RunProg({"do", "--value", "7", "--unknown"}), kExitBadInput);
}

TEST(CommandLineTest, StatusCodesMapToTheInterfaceExitCodes) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("x")), 1);
}

}  // namespace
}  // namespace offboard::common
