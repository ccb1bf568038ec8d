// Ed25519 signing keys: generate, save and load as PEM, sign and verify.
//
// Agents sign deletion attestations, the controller signs wipe orders and tree
// heads, bank-registered officers sign self-attestations: all with Ed25519.
// A key id is the lowercase hex SHA-256 of the raw 32-byte public key, so the
// same key has the same id in every file and on every side.
//
//   OFFBOARD_ASSIGN_OR_RETURN(Ed25519PrivateKey key, Ed25519PrivateKey::Generate());
//   std::string signature = key.Sign(message);
//   OFFBOARD_RETURN_IF_ERROR(key.PublicKey().Verify(message, signature));
//
// Key objects are immutable after construction and safe to share between
// threads (OpenSSL EVP_PKEY is reference counted and read-only here).
#ifndef OFFBOARD_COMMON_CRYPTO_ED25519_H_
#define OFFBOARD_COMMON_CRYPTO_ED25519_H_

#include <openssl/evp.h>

#include <array>
#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using EvpPkeyPtr = std::shared_ptr<EVP_PKEY>;

class Ed25519PublicKey {
 public:
  // INVALID_ARGUMENT unless `raw` is exactly 32 bytes of a valid point.
  static absl::StatusOr<Ed25519PublicKey> FromRaw(absl::string_view raw);
  // A SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"); INVALID_ARGUMENT for
  // anything else, including keys of another algorithm.
  static absl::StatusOr<Ed25519PublicKey> FromPem(absl::string_view pem);
  static absl::StatusOr<Ed25519PublicKey> Load(const boost::filesystem::path& path);

  std::string Raw() const;    // 32 bytes
  std::string ToPem() const;  // SubjectPublicKeyInfo PEM
  std::string KeyId() const;  // hex SHA-256 of Raw()

  // OK when `signature` is a valid Ed25519 signature of `message`;
  // UNAUTHENTICATED otherwise (also for a signature of the wrong length).
  absl::Status Verify(absl::string_view message, absl::string_view signature) const;

  bool operator==(const Ed25519PublicKey& other) const { return Raw() == other.Raw(); }

 private:
  explicit Ed25519PublicKey(EvpPkeyPtr key) : key_(std::move(key)) {}
  EvpPkeyPtr key_;
};

class Ed25519PrivateKey {
 public:
  // A fresh key from the OS's randomness through OpenSSL.
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // The RFC 8032 32-byte seed (what test vectors call the private key).
  static absl::StatusOr<Ed25519PrivateKey> FromSeed(absl::string_view seed);
  // PKCS#8 PEM ("BEGIN PRIVATE KEY"), unencrypted.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(absl::string_view pem);
  // Reads a PEM file. Refuses (PERMISSION_DENIED) a file that group or others
  // may read or write, because a leaked attestation key forges deletions.
  static absl::StatusOr<Ed25519PrivateKey> Load(const boost::filesystem::path& path);

  // Writes PKCS#8 PEM with mode 0600 atomically (temp file, fsync, link).
  // ALREADY_EXISTS if `path` exists: keys are never overwritten by accident.
  absl::Status Save(const boost::filesystem::path& path) const;

  std::string ToPem() const;
  Ed25519PublicKey PublicKey() const;
  std::string KeyId() const { return PublicKey().KeyId(); }
  std::string Sign(absl::string_view message) const;  // 64 bytes

 private:
  explicit Ed25519PrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {}
  EvpPkeyPtr key_;
};

// Loads the private key at `path`, or generates and saves one (mode 0600) if
// the file does not exist. `created`, when given, says which happened.
absl::StatusOr<Ed25519PrivateKey> LoadOrCreateEd25519Key(const boost::filesystem::path& path,
                                                         bool* created = nullptr);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_CRYPTO_ED25519_H_
