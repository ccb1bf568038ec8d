// Tests of the wipe journal: records survive reopening, a line torn by a
// crash is dropped, a damaged record before the end is refused.
#include "agent/wipe/wipe_journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "common/io/read_file.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

TEST(WipeJournalTest, RecordsSurviveReopeningInOrder) {
  testing::TempDir temp;
  const auto path = temp.path() / "wipe-journal.jsonl";
  {
    auto journal = WipeJournal::Open(path);
    ASSERT_TRUE(journal.ok()) << journal.status();
    EXPECT_TRUE(journal->records().empty());
    ASSERT_TRUE(journal->Append({{"step", "pass"}, {"t", 0}, {"k", 0}}).ok());
    ASSERT_TRUE(journal->Append({{"step", "pass_done"}, {"t", 0}, {"k", 0}}).ok());
  }
  auto reopened = WipeJournal::Open(path);
  ASSERT_TRUE(reopened.ok());
  ASSERT_EQ(reopened->records().size(), 2u);
  EXPECT_EQ(reopened->records()[1]["step"], "pass_done");
  EXPECT_EQ(reopened->records()[1]["seq"], 1);
  ASSERT_TRUE(reopened->Append({{"step", "truncate"}, {"t", 0}}).ok());
  EXPECT_EQ(reopened->records().back()["seq"], 2);
}

TEST(WipeJournalTest, OneWipeAtATimePerJournal) {
  testing::TempDir temp;
  const auto path = temp.path() / "wipe-journal.jsonl";
  auto first = WipeJournal::Open(path);
  ASSERT_TRUE(first.ok());
  const absl::Status second = WipeJournal::Open(path).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(second)) << second;
  EXPECT_THAT(second.message(), ::testing::HasSubstr("another wipe is running"));
}

TEST(WipeJournalTest, DropsALineTornByACrash) {
  testing::TempDir temp;
  const auto path = temp.path() / "wipe-journal.jsonl";
  {
    auto journal = WipeJournal::Open(path);
    ASSERT_TRUE(journal->Append({{"step", "pass"}, {"t", 0}, {"k", 0}}).ok());
  }
  {
    std::ofstream out(path.string(), std::ios::app);
    out << R"({"step":"pass_done","t":0,"k")";  // no end, no newline
  }
  {
    auto journal = WipeJournal::Open(path);
    ASSERT_TRUE(journal.ok()) << journal.status();
    ASSERT_EQ(journal->records().size(), 1u);
    // The torn bytes are gone, so the next record starts a clean line.
    ASSERT_TRUE(journal->Append({{"step", "pass"}, {"t", 0}, {"k", 0}}).ok());
  }
  auto again = WipeJournal::Open(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->records().size(), 2u);
}

TEST(WipeJournalTest, RefusesADamagedRecordBeforeTheEnd) {
  testing::TempDir temp;
  const auto path = temp.WriteFile(
      "wipe-journal.jsonl",
      "{\"seq\":0,\"step\":\"pass\"}\n{\"seq\":1,\"step\":\"pa\n{\"seq\":2,\"step\":\"x\"}\n");
  const absl::Status status = WipeJournal::Open(path).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), ::testing::HasSubstr("line 2"));
  // A record out of sequence (one removed) is damage too.
  const auto gap = temp.WriteFile("gap.jsonl", "{\"seq\":0}\n{\"seq\":2}\n{\"seq\":3}\n");
  EXPECT_TRUE(absl::IsDataLoss(WipeJournal::Open(gap).status()));
}

}  // namespace
}  // namespace offboard::agent
