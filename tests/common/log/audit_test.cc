#include "common/log/audit.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace offboard::common {
namespace {

TEST(AuditTest, FormatsKeyValueFieldsAndQuotesWhereNeeded) {
  EXPECT_EQ(FormatAuditLine("wipe_done", {{"path", "/srv/a.csv"}, {"passes", "3"}}),
            "event=wipe_done path=/srv/a.csv passes=3");
  EXPECT_EQ(FormatAuditLine("x", {{"path", "/srv/my file"}, {"empty", ""}}),
            "event=x path=\"/srv/my file\" empty=\"\"");
  EXPECT_EQ(FormatAuditLine("x", {{"reason", "a=b \"q\"\n"}}),
            "event=x reason=\"a=b \\\"q\\\"\\n\"");
}

TEST(AuditTest, ObserversSeeEveryEventWhileAliveFromAnyThread) {
  std::vector<std::string> seen;
  {
    ScopedAuditObserver observer([&](absl::string_view line) { seen.emplace_back(line); });
    AuditEvent("first", {{"n", "1"}});
    std::thread([] { AuditEvent("second", {{"n", "2"}}); }).join();
    std::vector<std::string> inner;
    {
      ScopedAuditObserver also([&](absl::string_view line) { inner.emplace_back(line); });
      AuditEvent("third", {});
    }
    EXPECT_EQ(inner, std::vector<std::string>{"event=third"});
  }
  AuditEvent("after", {});
  EXPECT_EQ(seen, (std::vector<std::string>{"event=first n=1", "event=second n=2", "event=third"}));
}

}  // namespace
}  // namespace offboard::common
