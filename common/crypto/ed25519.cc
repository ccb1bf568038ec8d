#include "common/crypto/ed25519.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/sha256.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// A PEM key is a few hundred bytes; anything near this is not a key file.
constexpr uint64_t kMaxKeyFileBytes = 1 << 20;

EvpPkeyPtr Wrap(EVP_PKEY* key) { return EvpPkeyPtr(key, EvpPkeyDeleter()); }


absl::Status RequireEd25519(EVP_PKEY* key, absl::string_view what) {
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is a ", EVP_PKEY_get0_type_name(key), " key, expected Ed25519"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromRaw(absl::string_view raw) {
  if (raw.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 public key must be 32 bytes, got ", raw.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("invalid Ed25519 public key: ", OpenSslError()));
  }
  return Ed25519PublicKey(Wrap(key));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM public key: ", OpenSslError()));
  }
  EvpPkeyPtr wrapped = Wrap(key);
  OFFBOARD_RETURN_IF_ERROR(RequireEd25519(key, "public key"));
  return Ed25519PublicKey(std::move(wrapped));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::Load(const boost::filesystem::path& path) {
  OFFBOARD_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, kMaxKeyFileBytes));
  absl::StatusOr<Ed25519PublicKey> key = FromPem(pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", key.status().message()));
  }
  return key;
}

std::string Ed25519PublicKey::Raw() const {
  std::string raw(kEd25519PublicKeySize, '\0');
  size_t length = raw.size();
  EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &length);
  return raw;
}

std::string Ed25519PublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return MemoryBioContents(bio.get());
}

std::string Ed25519PublicKey::KeyId() const { return DigestHex(Sha256Of(Raw())); }

absl::Status Ed25519PublicKey::Verify(absl::string_view message,
                                      absl::string_view signature) const {
  if (signature.size() != kEd25519SignatureSize) {
    return absl::UnauthenticatedError(
        absl::StrCat("Ed25519 signature must be 64 bytes, got ", signature.size()));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return absl::InternalError(absl::StrCat("EVP_DigestVerifyInit: ", OpenSslError()));
  }
  const int result = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  if (result != 1) {
    ERR_clear_error();
    return absl::UnauthenticatedError(
        absl::StrCat("Ed25519 signature does not verify with key ", KeyId()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) {
    return absl::InternalError(absl::StrCat("Ed25519 keygen: ", OpenSslError()));
  }
  return Ed25519PrivateKey(Wrap(key));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(absl::string_view seed) {
  if (seed.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 seed must be 32 bytes, got ", seed.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("invalid Ed25519 seed: ", OpenSslError()));
  }
  return Ed25519PrivateKey(Wrap(key));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM private key: ", OpenSslError()));
  }
  EvpPkeyPtr wrapped = Wrap(key);
  OFFBOARD_RETURN_IF_ERROR(RequireEd25519(key, "private key"));
  return Ed25519PrivateKey(std::move(wrapped));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Load(const boost::filesystem::path& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("stat ", path.string()));
  }
  if ((info.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path.string(), ": private key is accessible to group or others (mode ",
                     absl::StrFormat("%03o", info.st_mode & 0777), "); chmod 600 it"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, kMaxKeyFileBytes));
  absl::StatusOr<Ed25519PrivateKey> key = FromPem(pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", key.status().message()));
  }
  return key;
}

absl::Status Ed25519PrivateKey::Save(const boost::filesystem::path& path) const {
  return WriteFileAtomically(path, ToPem(), 0600, ExistingFile::kKeep);
}

std::string Ed25519PrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return MemoryBioContents(bio.get());
}

Ed25519PublicKey Ed25519PrivateKey::PublicKey() const {
  std::string raw(kEd25519PublicKeySize, '\0');
  size_t length = raw.size();
  EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &length);
  // A private key always has a valid public half.
  return *Ed25519PublicKey::FromRaw(raw);
}

std::string Ed25519PrivateKey::Sign(absl::string_view message) const {
  std::string signature(kEd25519SignatureSize, '\0');
  size_t length = signature.size();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get());
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                 reinterpret_cast<const unsigned char*>(message.data()), message.size());
  return signature;
}

absl::StatusOr<Ed25519PrivateKey> LoadOrCreateEd25519Key(const boost::filesystem::path& path,
                                                         bool* created) {
  struct stat info;
  if (::stat(path.c_str(), &info) == 0) {
    if (created != nullptr) *created = false;
    return Ed25519PrivateKey::Load(path);
  }
  if (errno != ENOENT) return ErrnoToStatus(errno, absl::StrCat("stat ", path.string()));
  OFFBOARD_ASSIGN_OR_RETURN(Ed25519PrivateKey key, Ed25519PrivateKey::Generate());
  OFFBOARD_RETURN_IF_ERROR(key.Save(path));
  if (created != nullptr) *created = true;
  return key;
}

}  // namespace offboard::common
