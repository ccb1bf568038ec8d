// init writes a new controller home, and a refused or failed init leaves
// whatever was there before exactly as it was.
#include "controller/cli/controller_home.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "controller/ca/certificate_authority.h"
#include "tests/support/temp_dir.h"

namespace offboard::controller {
namespace {

namespace fs = boost::filesystem;

std::string Contents(const fs::path& path) {
  std::ifstream in(path.string(), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(InitControllerHomeTest, WritesEveryFileAndOpens) {
  testing::TempDir temp;
  const ControllerPaths paths(temp.path() / "home");
  ASSERT_TRUE(InitControllerHome(paths.dir, {"localhost", "127.0.0.1"}).ok());
  for (const fs::path& file :
       {paths.Database(), paths.SigningKey(), paths.PublicKey(), paths.ServerKey(),
        paths.ServerCertificate(), paths.CaDir() / kCaCertificateFile,
        paths.CaDir() / kCaPrivateKeyFile}) {
    EXPECT_TRUE(fs::is_regular_file(file)) << file;
  }
  EXPECT_TRUE(OpenControllerHome(paths.dir).ok());
}

TEST(InitControllerHomeTest, SecondInitChangesNothing) {
  testing::TempDir temp;
  const ControllerPaths paths(temp.path() / "home");
  ASSERT_TRUE(InitControllerHome(paths.dir, {"localhost"}).ok());
  const std::string ca_key = Contents(paths.CaDir() / kCaPrivateKeyFile);
  const std::string signing_key = Contents(paths.SigningKey());

  const absl::Status again = InitControllerHome(paths.dir, {"localhost"});
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_NE(again.message().find("nothing was changed"), absl::string_view::npos) << again;
  EXPECT_EQ(Contents(paths.CaDir() / kCaPrivateKeyFile), ca_key);
  EXPECT_EQ(Contents(paths.SigningKey()), signing_key);
  EXPECT_TRUE(OpenControllerHome(paths.dir).ok());
}

// A CA restored from a backup into an otherwise empty directory: init must
// not issue a second CA beside it, and must not delete it while undoing.
TEST(InitControllerHomeTest, RefusesBesideARestoredCaAndKeepsIt) {
  testing::TempDir temp;
  const ControllerPaths paths(temp.path() / "home");
  const fs::path ca_key = temp.WriteFile("home/ca/ca-key.pem", "the CA key in use\n");
  const fs::path ca_certificate = temp.WriteFile("home/ca/ca.pem", "the CA certificate\n");

  const absl::Status status = InitControllerHome(paths.dir, {"localhost"});
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_NE(status.message().find("ca.pem"), absl::string_view::npos) << status;
  EXPECT_EQ(Contents(ca_key), "the CA key in use\n");
  EXPECT_EQ(Contents(ca_certificate), "the CA certificate\n");
  EXPECT_FALSE(fs::exists(paths.SigningKey()));
  EXPECT_FALSE(fs::exists(paths.Database()));
}

// An init that fails half way (here on a host name no certificate can hold)
// removes the keys it wrote, and only those.
TEST(InitControllerHomeTest, FailedInitRemovesOnlyWhatItWrote) {
  testing::TempDir temp;
  const ControllerPaths paths(temp.path() / "home");
  const fs::path note = temp.WriteFile("home/ca/README", "kept\n");

  const absl::Status status = InitControllerHome(paths.dir, {"localhost", "not a host name"});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(Contents(note), "kept\n");
  for (const fs::path& file :
       {paths.Database(), paths.SigningKey(), paths.PublicKey(), paths.ServerKey(),
        paths.ServerCertificate(), paths.CaDir() / kCaCertificateFile,
        paths.CaDir() / kCaPrivateKeyFile}) {
    EXPECT_FALSE(fs::exists(file)) << file;
  }
  // Nothing is left to stop a corrected init.
  EXPECT_TRUE(InitControllerHome(paths.dir, {"localhost"}).ok());
}

}  // namespace
}  // namespace offboard::controller
