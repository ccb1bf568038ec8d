#include "common/crypto/ed25519.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "common/crypto/sha256.h"
#include "common/encoding/hex.h"
#include "tests/support/temp_dir.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;

std::string Unhex(absl::string_view hex) {
  const std::vector<uint8_t> bytes = *HexDecode(hex);
  return std::string(bytes.begin(), bytes.end());
}

// RFC 8032 section 7.1, TEST 1 and TEST 2.
TEST(Ed25519Test, Rfc8032Vectors) {
  const Ed25519PrivateKey key1 = *Ed25519PrivateKey::FromSeed(
      Unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  EXPECT_EQ(HexEncode(key1.PublicKey().Raw()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(HexEncode(key1.Sign("")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");

  const Ed25519PrivateKey key2 = *Ed25519PrivateKey::FromSeed(
      Unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
  EXPECT_EQ(HexEncode(key2.Sign(Unhex("72"))),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
}

TEST(Ed25519Test, VerifyAcceptsOnlyTheSignedMessageAndKey) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  const Ed25519PrivateKey other = *Ed25519PrivateKey::Generate();
  const std::string signature = key.Sign("message");
  EXPECT_TRUE(key.PublicKey().Verify("message", signature).ok());
  EXPECT_EQ(key.PublicKey().Verify("massage", signature).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(other.PublicKey().Verify("message", signature).ok());
  EXPECT_THAT(key.PublicKey().Verify("message", signature.substr(1)).message(),
              HasSubstr("64 bytes"));
  std::string flipped = signature;
  flipped[10] ^= 0x01;
  EXPECT_FALSE(key.PublicKey().Verify("message", flipped).ok());
}

TEST(Ed25519Test, KeyIdIsSha256OfRawPublicKey) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  EXPECT_EQ(key.KeyId(), DigestHex(Sha256Of(key.PublicKey().Raw())));
  EXPECT_EQ(key.KeyId().size(), 64u);
}

TEST(Ed25519Test, PemRoundTrips) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  const absl::StatusOr<Ed25519PrivateKey> reloaded = Ed25519PrivateKey::FromPem(key.ToPem());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->KeyId(), key.KeyId());
  const absl::StatusOr<Ed25519PublicKey> public_key =
      Ed25519PublicKey::FromPem(key.PublicKey().ToPem());
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  EXPECT_TRUE(public_key->Verify("m", key.Sign("m")).ok());
  EXPECT_THAT(key.ToPem(), HasSubstr("BEGIN PRIVATE KEY"));
  EXPECT_THAT(key.PublicKey().ToPem(), HasSubstr("BEGIN PUBLIC KEY"));
}

TEST(Ed25519Test, RejectsKeysOfAnotherAlgorithm) {
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, ec);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  const absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromPem(pem);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key.status().message(), HasSubstr("expected Ed25519"));
  EXPECT_FALSE(Ed25519PublicKey::FromPem("garbage").ok());
  EXPECT_FALSE(Ed25519PublicKey::FromRaw("short").ok());
  EXPECT_FALSE(Ed25519PrivateKey::FromSeed("short").ok());
}

TEST(Ed25519Test, SaveWritesMode0600AndNeverOverwrites) {
  offboard::testing::TempDir dir;
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  const auto path = dir.path() / "key.pem";
  ASSERT_TRUE(key.Save(path).ok());
  struct stat info;
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(Ed25519PrivateKey::Load(path)->KeyId(), key.KeyId());

  const Ed25519PrivateKey other = *Ed25519PrivateKey::Generate();
  EXPECT_EQ(other.Save(path).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Ed25519PrivateKey::Load(path)->KeyId(), key.KeyId());
  // Nothing but the key is left beside it, whichever way Save ended.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : boost::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

TEST(Ed25519Test, LoadRefusesAKeyReadableByOthers) {
  offboard::testing::TempDir dir;
  const auto path = dir.path() / "key.pem";
  ASSERT_TRUE(Ed25519PrivateKey::Generate()->Save(path).ok());
  ::chmod(path.c_str(), 0644);
  const absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::Load(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(key.status().message(), HasSubstr("mode 644"));
}

TEST(Ed25519Test, LoadOrCreateCreatesOnceThenLoads) {
  offboard::testing::TempDir dir;
  const auto path = dir.path() / "agent.pem";
  bool created = false;
  const std::string first = LoadOrCreateEd25519Key(path, &created)->KeyId();
  EXPECT_TRUE(created);
  EXPECT_EQ(LoadOrCreateEd25519Key(path, &created)->KeyId(), first);
  EXPECT_FALSE(created);
}

TEST(Ed25519Test, LoadOfCorruptFileNamesThePath) {
  offboard::testing::TempDir dir;
  const auto path = dir.WriteFile("bad.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
  ::chmod(path.c_str(), 0600);
  const absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::Load(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key.status().message(), HasSubstr("bad.pem"));
}

}  // namespace
}  // namespace offboard::common
