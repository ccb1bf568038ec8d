#include "common/io/write_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/io/read_file.h"
#include "tests/support/temp_dir.h"

namespace offboard::common {
namespace {

size_t EntriesIn(const boost::filesystem::path& dir) {
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : boost::filesystem::directory_iterator(dir)) ++entries;
  return entries;
}

TEST(WriteFileTest, ReplacesByDefaultWithTheGivenMode) {
  testing::TempDir dir;
  const auto path = dir.WriteFile("report.json", "old");
  ASSERT_TRUE(WriteFileAtomically(path, "new", 0640).ok());
  EXPECT_EQ(*ReadFileToString(path), "new");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640u);
  EXPECT_EQ(EntriesIn(dir.path()), 1u);
}

TEST(WriteFileTest, KeepingAnExistingFileFailsAndChangesNothing) {
  testing::TempDir dir;
  const auto path = dir.WriteFile("key.pem", "first");
  const absl::Status status = WriteFileAtomically(path, "second", 0600, ExistingFile::kKeep);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(status.message().find("key.pem"), absl::string_view::npos);
  EXPECT_EQ(*ReadFileToString(path), "first");
  EXPECT_EQ(EntriesIn(dir.path()), 1u);

  const auto fresh = dir.path() / "new.pem";
  ASSERT_TRUE(WriteFileAtomically(fresh, "created", 0600, ExistingFile::kKeep).ok());
  EXPECT_EQ(*ReadFileToString(fresh), "created");
  EXPECT_EQ(EntriesIn(dir.path()), 2u);
}

TEST(WriteFileTest, AMissingDirectoryIsAnErrorNamingThePath) {
  testing::TempDir dir;
  const absl::Status status = WriteFileAtomically(dir.path() / "absent/out.json", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("out.json"), absl::string_view::npos);
}

TEST(WriteFileTest, CreatesDirectoriesDurablyAndNamesWhatIsInTheWay) {
  testing::TempDir temp;
  const boost::filesystem::path deep = temp.path() / "a" / "b" / "c";
  ASSERT_TRUE(CreateDirectoriesDurably(deep).ok());
  EXPECT_TRUE(boost::filesystem::is_directory(deep));
  EXPECT_TRUE(CreateDirectoriesDurably(deep).ok());  // already there
  EXPECT_TRUE(SyncDirectory(deep).ok());
  temp.WriteFile("file", "x");
  const absl::Status blocked = CreateDirectoriesDurably(temp.path() / "file" / "sub");
  EXPECT_FALSE(blocked.ok());
  EXPECT_NE(blocked.message().find("file"), absl::string_view::npos) << blocked;
  EXPECT_FALSE(SyncDirectory(temp.path() / "missing").ok());
}

}  // namespace
}  // namespace offboard::common
