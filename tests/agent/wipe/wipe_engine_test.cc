// Tests of the wipe engine on real files in a temporary directory: whole-file
// destruction, archive rewriting, refusals, hard links, files changed since
// the scan, and resuming from journals left by interrupted runs.
#include "agent/wipe/wipe_engine.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/crypto/sha256.h"
#include "common/encoding/hex.h"
#include "common/io/read_file.h"
#include "common/io/unique_fd.h"
#include "tests/support/fingerprint_sets.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;
using ::testing::HasSubstr;

offboard::v1::WipePolicy TestPolicy(int passes = 1) {
  offboard::v1::WipePolicy policy;
  policy.set_name("test");
  for (int i = 0; i < passes; ++i) {
    policy.add_passes()->set_pattern(i + 1 == passes ? offboard::v1::PASS_PATTERN_RANDOM
                                                     : offboard::v1::PASS_PATTERN_ZEROS);
  }
  policy.set_verification(offboard::v1::VERIFICATION_LAST);
  policy.set_rename_rounds(2);
  policy.set_archive_members(offboard::v1::ARCHIVE_MEMBER_ACTION_REWRITE_ARCHIVE);
  policy.set_unwritable_archives(offboard::v1::UNWRITABLE_ARCHIVE_ACTION_WIPE_WHOLE_ARCHIVE);
  policy.set_derived_copies(offboard::v1::DERIVED_COPY_ACTION_WIPE_WHOLE_FILE);
  return policy;
}

FileIdentity IdentityOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return {.device = static_cast<uint64_t>(st.st_dev),
          .inode = static_cast<uint64_t>(st.st_ino),
          .size = static_cast<uint64_t>(st.st_size),
          .mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          .link_count = static_cast<uint64_t>(st.st_nlink)};
}

Finding ExactFinding(const fs::path& path, std::vector<std::string> member = {}) {
  Finding finding;
  finding.dataset_id = "ds-1";
  finding.path = path.string();
  finding.member = std::move(member);
  finding.match = finding.member.empty() ? MatchKind::kExact : MatchKind::kArchive;
  if (finding.member.empty()) {
    finding.sha256 = common::DigestHex(*common::Sha256File(path));
  }
  finding.identity = IdentityOf(path);
  return finding;
}

std::vector<std::string> Listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class WipeEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::canonical(temp_.path()) / "root";
    fs::create_directories(root_ / "dir");
    auto root = WipeRoot::Open(root_);
    ASSERT_TRUE(root.ok()) << root.status();
    roots_.push_back(*std::move(root));
    auto journal = WipeJournal::Open(temp_.path() / "journal.jsonl");
    ASSERT_TRUE(journal.ok());
    journal_.emplace(*std::move(journal));
  }

  std::vector<WipeItem> Execute(const WipePlan& plan, const offboard::v1::WipePolicy& policy) {
    WipeEngine engine(roots_, policy, nullptr);
    absl::StatusOr<std::vector<WipeItem>> items = engine.Execute(plan, *journal_);
    EXPECT_TRUE(items.ok()) << items.status();
    return items.ok() ? *items : std::vector<WipeItem>{};
  }

  std::vector<std::string> Steps() const {
    std::vector<std::string> steps;
    for (const auto& record : journal_->records()) steps.push_back(record["step"]);
    return steps;
  }

  testing::TempDir temp_;
  fs::path root_;
  std::vector<WipeRoot> roots_;
  std::optional<WipeJournal> journal_;
};

TEST_F(WipeEngineTest, DestroysAnExactCopyAndJournalsEveryStep) {
  const auto bank = temp_.WriteFile("root/dir/copy.csv", std::string(10000, 'B'));
  temp_.WriteFile("root/dir/keep.txt", "vendor's own");
  const auto policy = TestPolicy(2);
  const auto items = Execute(PlanWipe({ExactFinding(bank)}, policy), policy);
  ASSERT_EQ(items.size(), 1u);
  const TargetOutcome& outcome = items[0].outcome;
  EXPECT_EQ(outcome.status, ItemStatus::kWiped) << outcome.reason;
  EXPECT_EQ(outcome.method, "overwrite");
  ASSERT_EQ(outcome.passes.size(), 2u);
  EXPECT_FALSE(outcome.passes[0].verified);
  EXPECT_TRUE(outcome.passes[1].verified);
  EXPECT_EQ(outcome.renames, 2u);
  EXPECT_EQ(outcome.bytes_overwritten, 12288u);
  ASSERT_TRUE(outcome.assurance.has_value());
  ASSERT_TRUE(outcome.storage.has_value());
  EXPECT_EQ(Listing(root_ / "dir"), std::vector<std::string>{"keep.txt"});
  EXPECT_THAT(Steps(), ::testing::ElementsAre("probe", "pass", "pass_done", "pass", "pass_done",
                                              "rename", "rename", "truncate", "unlink", "done"));
}

TEST_F(WipeEngineTest, RefusesTargetsOutsideTheRootsAndLeavesThemAlone) {
  const auto outside = temp_.WriteFile("outside.csv", "bank data");
  const auto policy = TestPolicy();
  const auto items = Execute(PlanWipe({ExactFinding(outside)}, policy), policy);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kFailed);
  EXPECT_THAT(items[0].outcome.reason, HasSubstr("outside the wipe roots"));
  EXPECT_EQ(*common::ReadFileToString(outside), "bank data");
}

TEST_F(WipeEngineTest, LeavesAFileThatChangedSinceTheScanAlone) {
  const auto bank = temp_.WriteFile("root/dir/copy.csv", "bank data");
  const Finding finding = ExactFinding(bank);
  temp_.WriteFile("root/dir/copy.csv", "rewritten by the vendor since");
  const auto policy = TestPolicy();
  const auto items = Execute(PlanWipe({finding}, policy), policy);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kSkipped);
  EXPECT_THAT(items[0].outcome.reason, HasSubstr("changed since the scan"));
  EXPECT_EQ(*common::ReadFileToString(bank), "rewritten by the vendor since");
}

TEST_F(WipeEngineTest, ReportOnlyChangesNothing) {
  const auto bank = temp_.WriteFile("root/dir/copy.csv", "bank data");
  auto policy = TestPolicy();
  policy.set_derived_copies(offboard::v1::DERIVED_COPY_ACTION_REPORT_ONLY);
  Finding finding = ExactFinding(bank);
  finding.match = MatchKind::kDerived;
  const auto items = Execute(PlanWipe({finding}, policy), policy);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kSkipped);
  EXPECT_EQ(*common::ReadFileToString(bank), "bank data");
}

TEST_F(WipeEngineTest, HardLinksAreOverwrittenOnceAndEveryNameRemoved) {
  const auto bank = temp_.WriteFile("root/dir/a.csv", std::string(5000, 'B'));
  ASSERT_EQ(::link(bank.c_str(), (root_ / "dir/b.csv").c_str()), 0);
  const auto policy = TestPolicy();
  const auto items =
      Execute(PlanWipe({ExactFinding(bank), ExactFinding(root_ / "dir/b.csv")}, policy), policy);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kWiped);
  EXPECT_EQ(items[0].outcome.link_count, 2u);
  EXPECT_THAT(items[0].outcome.reason, HasSubstr("2 names"));
  EXPECT_EQ(items[1].outcome.status, ItemStatus::kWiped);
  EXPECT_THAT(items[1].outcome.reason, HasSubstr("hard link"));
  EXPECT_TRUE(Listing(root_ / "dir").empty());
}

TEST_F(WipeEngineTest, AHardLinkLeadingOutOfTheRootIsLeftAlone) {
  // The same inode named inside the root and outside it: overwriting it
  // through the inside name would change the outside file.
  const auto outside = temp_.WriteFile("outside/keep.csv", std::string(5000, 'B'));
  ASSERT_EQ(::link(outside.c_str(), (root_ / "dir/link.csv").c_str()), 0);
  const auto policy = TestPolicy();
  const auto items = Execute(PlanWipe({ExactFinding(root_ / "dir/link.csv")}, policy), policy);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kNeedsReview);
  EXPECT_THAT(items[0].outcome.reason, HasSubstr("2 hard links but only 1 of them"));
  EXPECT_EQ(*common::ReadFileToString(outside), std::string(5000, 'B'));
  EXPECT_EQ(*common::ReadFileToString(root_ / "dir/link.csv"), std::string(5000, 'B'));
}

TEST_F(WipeEngineTest, AHardLinkOutIsLeftAloneEvenWhenABindMountShowsItsOtherName) {
  if (::geteuid() != 0) GTEST_SKIP() << "bind mounts need root";
  // Found by tests/soak/adversarial_wipe.py: outside/ bind-mounted below the
  // root shows the outside name of the inode below the root too (same
  // device), so counting the plan's names alone let the overwrite through.
  const auto outside = temp_.WriteFile("outside/keep.csv", std::string(5000, 'B'));
  ASSERT_EQ(::link(outside.c_str(), (root_ / "dir/link.csv").c_str()), 0);
  fs::create_directories(root_ / "mnt");
  ASSERT_EQ(
      ::mount(outside.parent_path().c_str(), (root_ / "mnt").c_str(), nullptr, MS_BIND, nullptr),
      0);
  const auto policy = TestPolicy();
  const auto items = Execute(PlanWipe({ExactFinding(root_ / "dir/link.csv"),
                                       ExactFinding(root_ / "mnt/keep.csv")},
                                      policy),
                             policy);
  ::umount2((root_ / "mnt").c_str(), MNT_DETACH);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kNeedsReview) << items[0].outcome.reason;
  EXPECT_NE(items[1].outcome.status, ItemStatus::kWiped) << items[1].outcome.reason;
  EXPECT_EQ(*common::ReadFileToString(outside), std::string(5000, 'B'));
}

TEST_F(WipeEngineTest, AnArchiveHardLinkedFromOutsideIsNotRewritten) {
  // The rewrite destroys the old inode in place: the outside name would lose it.
  temp_.WriteFile("src/bank.csv", std::string(3000, 'B'));
  temp_.WriteFile("src/keep.txt", "vendor's own");
  const fs::path outside = temp_.path() / "outside/backup.tar";
  fs::create_directories(outside.parent_path());
  const std::string command = "tar -cf '" + outside.string() + "' -C '" +
                              (temp_.path() / "src").string() + "' bank.csv keep.txt";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const std::string before = *common::ReadFileToString(outside);
  ASSERT_EQ(::link(outside.c_str(), (root_ / "dir/backup.tar").c_str()), 0);
  const auto policy = TestPolicy();
  const auto items =
      Execute(PlanWipe({ExactFinding(root_ / "dir/backup.tar", {"bank.csv"})}, policy), policy);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kNeedsReview) << items[0].outcome.reason;
  EXPECT_THAT(items[0].outcome.reason, HasSubstr("hard links"));
  EXPECT_EQ(*common::ReadFileToString(outside), before);
}

TEST_F(WipeEngineTest, RewritesAnArchiveWithoutTheBankMember) {
  temp_.WriteFile("src/bank.csv", std::string(3000, 'B'));
  temp_.WriteFile("src/keep.txt", "vendor's own");
  const fs::path archive = root_ / "dir/backup.tar";
  const std::string command = "tar -cf '" + archive.string() + "' -C '" +
                              (temp_.path() / "src").string() + "' bank.csv keep.txt";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const auto policy = TestPolicy();
  const auto items = Execute(PlanWipe({ExactFinding(archive, {"bank.csv"})}, policy), policy);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kWiped) << items[0].outcome.reason;
  EXPECT_EQ(items[0].outcome.method, "rewrite_archive");
  EXPECT_EQ(items[0].outcome.passes.size(), 1u);
  // Only the archive remains (no temporary or hidden names), holding only keep.txt.
  EXPECT_EQ(Listing(root_ / "dir"), std::vector<std::string>{"backup.tar"});
  const std::string list = temp_.path().string() + "/list.txt";
  ASSERT_EQ(std::system(("tar -tf '" + archive.string() + "' > '" + list + "'").c_str()), 0);
  EXPECT_EQ(*common::ReadFileToString(list), "keep.txt\n");
}

TEST_F(WipeEngineTest, RedactsTheBankRecordsAndDestroysTheOldVersion) {
  std::string text = "id,amount\n";
  for (int i = 0; i < 6; ++i) text += testing::CustomerId(i) + ",1\n";
  text += "VENDOR-1,2\nVENDOR-2,3\n";
  const auto file = temp_.WriteFile("root/dir/merged.csv", text);
  absl::StatusOr<FingerprintIndex> fingerprints = FingerprintIndex::Build(
      {testing::MakeFingerprintSet("ds-1", testing::TestKey(1), R"(CUST-\d{8})", 3,
                                   testing::CustomerIds(0, 100))});
  ASSERT_TRUE(fingerprints.ok()) << fingerprints.status();
  auto policy = TestPolicy();
  policy.set_derived_copies(offboard::v1::DERIVED_COPY_ACTION_REDACT_RECORDS);
  Finding finding = ExactFinding(file);
  finding.match = MatchKind::kDerived;
  WipeEngine engine(roots_, policy, &*fingerprints);
  absl::StatusOr<std::vector<WipeItem>> items = engine.Execute(PlanWipe({finding}, policy), *journal_);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ((*items)[0].outcome.status, ItemStatus::kWiped) << (*items)[0].outcome.reason;
  EXPECT_EQ((*items)[0].outcome.method, "redact_records");
  EXPECT_EQ(*common::ReadFileToString(file), "id,amount\nVENDOR-1,2\nVENDOR-2,3\n");
  EXPECT_EQ(Listing(root_ / "dir"), std::vector<std::string>{"merged.csv"});
}

TEST_F(WipeEngineTest, ResumesAfterACrashBetweenPassesAndRenames) {
  const auto bank = temp_.WriteFile("root/dir/copy.csv", std::string(9000, 'B'));
  const auto policy = TestPolicy(2);
  const WipePlan plan = PlanWipe({ExactFinding(bank)}, policy);
  // The earlier run wrote pass 0 and announced a rename that happened.
  ASSERT_EQ(::rename(bank.c_str(), (root_ / "dir/renamed0000").c_str()), 0);
  const nlohmann::json storage = {{"fs_type", "ext4"},          {"fs_magic", 0xEF53},
                                  {"device", "/dev/x"},         {"mount_point", "/"},
                                  {"rotational", true},         {"discard", false},
                                  {"mount_options", "rw"},      {"data_journal", false},
                                  {"shared_extents", false},    {"extents_mapped", true},
                                  {"note", ""}};
  for (nlohmann::json record : std::vector<nlohmann::json>{
           {{"step", "probe"}, {"storage", storage}},
           {{"step", "pass"}, {"k", 0}},
           {{"step", "pass_done"}, {"k", 0}, {"pattern", "zeros"}, {"verified", false}, {"method", ""}},
           {{"step", "pass"}, {"k", 1}},
           {{"step", "pass_done"}, {"k", 1}, {"pattern", "random"}, {"verified", true}, {"method", "direct_io"}},
           {{"step", "rename"}, {"from", common::HexEncode("copy.csv")}, {"to", common::HexEncode("renamed0000")}}}) {
    record["t"] = 0;
    ASSERT_TRUE(journal_->Append(record).ok());
  }
  const auto items = Execute(plan, policy);
  ASSERT_EQ(items.size(), 1u);
  const TargetOutcome& outcome = items[0].outcome;
  EXPECT_EQ(outcome.status, ItemStatus::kWiped) << outcome.reason;
  EXPECT_EQ(outcome.passes.size(), 2u);
  EXPECT_EQ(outcome.renames, 2u);  // one before the crash, one after
  EXPECT_THAT(outcome.reason, HasSubstr("resumed"));
  EXPECT_TRUE(Listing(root_ / "dir").empty());
  // No pass was repeated: both were complete.
  const std::vector<std::string> steps = Steps();
  EXPECT_EQ(std::count(steps.begin(), steps.end(), std::string("pass")), 2);
}

TEST_F(WipeEngineTest, ResumesAfterSeveralRenamesAndAnAnnouncedUnlink) {
  const auto bank = temp_.WriteFile("root/dir/copy.csv", std::string(9000, 'B'));
  auto policy = TestPolicy();
  policy.set_rename_rounds(3);
  const WipePlan plan = PlanWipe({ExactFinding(bank)}, policy);
  // Two renames happened, a third was announced but not taken; then the
  // unlink was announced too (as if the agent died right before each).
  ASSERT_EQ(::rename(bank.c_str(), (root_ / "dir/first0000000").c_str()), 0);
  ASSERT_EQ(::rename((root_ / "dir/first0000000").c_str(), (root_ / "dir/second000000").c_str()), 0);
  for (nlohmann::json record : std::vector<nlohmann::json>{
           {{"step", "probe"}, {"storage", StorageFactsToJson({})}},
           {{"step", "pass"}, {"k", 0}},
           {{"step", "pass_done"}, {"k", 0}, {"pattern", "random"}, {"verified", true}, {"method", "direct_io"}},
           {{"step", "rename"}, {"from", common::HexEncode("copy.csv")}, {"to", common::HexEncode("first0000000")}},
           {{"step", "rename"}, {"from", common::HexEncode("first0000000")}, {"to", common::HexEncode("second000000")}},
           {{"step", "rename"}, {"from", common::HexEncode("second000000")}, {"to", common::HexEncode("third0000000")}},
           {{"step", "truncate"}},
           {{"step", "unlink"}, {"name", common::HexEncode("second000000")}}}) {
    record["t"] = 0;
    ASSERT_TRUE(journal_->Append(record).ok());
  }
  const auto items = Execute(plan, policy);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kWiped) << items[0].outcome.reason;
  EXPECT_EQ(items[0].outcome.renames, 3u);
  // The file is really gone: the announced unlink is not taken on trust.
  EXPECT_TRUE(Listing(root_ / "dir").empty());
}

TEST_F(WipeEngineTest, ClaimsNothingForAFileLostAfterACrash) {
  const auto bank = temp_.WriteFile("root/dir/copy.csv", "bank data");
  const auto policy = TestPolicy();
  const WipePlan plan = PlanWipe({ExactFinding(bank)}, policy);
  ASSERT_TRUE(journal_->Append({{"t", 0}, {"step", "probe"}, {"storage", StorageFactsToJson({})}}).ok());
  ASSERT_TRUE(journal_->Append({{"t", 0}, {"step", "pass"}, {"k", 0}}).ok());
  fs::remove(bank);  // gone, but the journal never announced an unlink
  const auto items = Execute(plan, policy);
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kFailed);
  EXPECT_THAT(items[0].outcome.reason, HasSubstr("cannot show it was destroyed"));
}

TEST_F(WipeEngineTest, AnImmutableFileFailsWithTheReason) {
  if (::geteuid() != 0) GTEST_SKIP() << "chattr +i needs root";
  const auto bank = temp_.WriteFile("root/dir/copy.csv", "bank data");
  {
    common::UniqueFd fd(::open(bank.c_str(), O_RDONLY));
    int flags = 0;
    if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0) GTEST_SKIP() << "no inode flags here";
    flags |= FS_IMMUTABLE_FL;
    if (::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags) != 0) GTEST_SKIP() << "no immutable flag here";
  }
  const auto policy = TestPolicy();
  const auto items = Execute(PlanWipe({ExactFinding(bank)}, policy), policy);
  {
    common::UniqueFd fd(::open(bank.c_str(), O_RDONLY));
    int flags = 0;
    ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags);
    flags &= ~FS_IMMUTABLE_FL;
    ::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
  }
  EXPECT_EQ(items[0].outcome.status, ItemStatus::kFailed);
  EXPECT_THAT(items[0].outcome.reason, HasSubstr("immutable"));
  EXPECT_EQ(*common::ReadFileToString(bank), "bank data");
}

}  // namespace
}  // namespace offboard::agent
