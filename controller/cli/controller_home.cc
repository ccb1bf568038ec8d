#include "controller/cli/controller_home.h"

#include <sys/stat.h>

#include <boost/filesystem/operations.hpp>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"
#include "controller/ca/certificate_authority.h"
#include "controller/store/sqlite_store.h"

namespace offboard::controller {
namespace {

constexpr int kServerCertificateDays = 825;

// Keys and certificates first, the database last: a database is what marks
// the directory as initialized. Every file is written only if it does not
// exist yet, and goes into `created` once written, so that undoing a failed
// init removes what this init wrote and nothing else (not the files of
// another init running at the same time).
absl::Status InitFiles(const ControllerPaths& paths, const std::vector<std::string>& hostnames,
                       std::vector<boost::filesystem::path>& created) {
  boost::system::error_code error;
  boost::filesystem::create_directories(paths.CaDir(), error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat("create ", paths.CaDir().string(), ": ", error.message()));
  }
  ::chmod(paths.dir.c_str(), 0700);
  const auto write = [&](const boost::filesystem::path& path, const std::string& contents,
                         int mode) -> absl::Status {
    OFFBOARD_RETURN_IF_ERROR(
        common::WriteFileAtomically(path, contents, mode, common::ExistingFile::kKeep));
    created.push_back(path);
    return absl::OkStatus();
  };

  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PrivateKey key, common::Ed25519PrivateKey::Generate());
  OFFBOARD_RETURN_IF_ERROR(key.Save(paths.SigningKey()));
  created.push_back(paths.SigningKey());
  OFFBOARD_RETURN_IF_ERROR(write(paths.PublicKey(), key.PublicKey().ToPem(), 0644));
  OFFBOARD_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Create(hostnames.front()));
  OFFBOARD_RETURN_IF_ERROR(ca.Save(paths.CaDir()));
  created.push_back(paths.CaDir() / kCaCertificateFile);
  created.push_back(paths.CaDir() / kCaPrivateKeyFile);
  OFFBOARD_ASSIGN_OR_RETURN(CertificateAuthority::IssuedCertificate server,
                            ca.IssueServerCertificate(hostnames, kServerCertificateDays));
  OFFBOARD_RETURN_IF_ERROR(write(paths.ServerKey(), server.private_key_pem, 0600));
  OFFBOARD_RETURN_IF_ERROR(write(paths.ServerCertificate(), server.certificate_pem, 0644));
  // SQLite creates the database and its WAL files; that this init did is
  // known only from the check just before.
  struct stat info {};
  if (::lstat(paths.Database().c_str(), &info) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(paths.Database().string(), " already exists"));
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    created.push_back(paths.Database().string() + suffix);
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<ControllerStore> store, OpenSqliteStore(paths.Database()));
  common::AuditEvent("controller_initialized", {{"data_dir", paths.dir.string()},
                                                {"key_id", key.KeyId()},
                                                {"hostnames", absl::StrJoin(hostnames, ",")}});
  return absl::OkStatus();
}

}  // namespace

absl::Status InitControllerHome(const boost::filesystem::path& data_dir,
                                const std::vector<std::string>& hostnames) {
  const ControllerPaths paths(boost::filesystem::absolute(data_dir));
  // Every file init writes. One that is there already (an earlier init, a
  // restored backup) is refused before anything is written, so that undoing a
  // failed init below removes only what this one created: never a CA key
  // that certificates in use depend on.
  const std::vector<boost::filesystem::path> outputs = {paths.Database(),
                                                        paths.Database().string() + "-wal",
                                                        paths.Database().string() + "-shm",
                                                        paths.SigningKey(),
                                                        paths.PublicKey(),
                                                        paths.CaDir() / kCaCertificateFile,
                                                        paths.CaDir() / kCaPrivateKeyFile,
                                                        paths.ServerKey(),
                                                        paths.ServerCertificate()};
  for (const boost::filesystem::path& output : outputs) {
    struct stat info {};
    if (::lstat(output.c_str(), &info) == 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          output.string(), " already exists (an earlier init, or a restore): ", paths.dir.string(),
          " is not a new data directory; nothing was changed"));
    }
    if (errno != ENOENT) {
      return common::ErrnoToStatus(errno, absl::StrCat(output.string(), "; nothing was changed"));
    }
  }
  boost::system::error_code error;
  const bool ca_dir_existed = boost::filesystem::exists(paths.CaDir(), error);
  std::vector<boost::filesystem::path> created;
  const absl::Status status = InitFiles(paths, hostnames, created);
  if (!status.ok()) {
    for (const boost::filesystem::path& file : created) boost::filesystem::remove(file, error);
    if (!ca_dir_existed) boost::filesystem::remove(paths.CaDir(), error);  // only if empty
  }
  return status;
}

absl::StatusOr<ControllerHome> OpenControllerHome(const boost::filesystem::path& data_dir) {
  ControllerPaths paths(boost::filesystem::absolute(data_dir));
  boost::system::error_code error;
  if (!boost::filesystem::exists(paths.Database(), error) ||
      !boost::filesystem::exists(paths.SigningKey(), error)) {
    return absl::FailedPreconditionError(
        absl::StrCat(paths.dir.string(), " is not a controller data directory; run "
                                         "`offboard-controller init --data-dir ",
                     paths.dir.string(), "` first"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<ControllerStore> store,
                            OpenSqliteStore(paths.Database()));
  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PrivateKey key,
                            common::Ed25519PrivateKey::Load(paths.SigningKey()));
  return ControllerHome{std::move(paths), std::move(store), std::move(key)};
}

}  // namespace offboard::controller
