#include "common/log/audit.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace offboard::common
