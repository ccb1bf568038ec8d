#include "controller/cli/controller_home.h"

#include <sys/stat.h>

#include <boost/filesystem/operations.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"
#include "controller/ca/certificate_authority.h"
#include "controller/store/sqlite_store.h"

namespace offboard::controller {
namespace {

constexpr int kServerCertificateDays = 825;

// Keys and certificates first, the database last: a database is what marks
// the directory as initialized.
absl::Status InitFiles(const ControllerPaths& paths, const std::vector<std::string>& hostnames) {
  boost::system::error_code error;
  boost::filesystem::create_directories(paths.CaDir(), error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat("create ", paths.CaDir().string(), ": ", error.message()));
  }
  ::chmod(paths.dir.c_str(), 0700);

  OFFBOARD_ASSIGN_OR_RETURN(common::Ed25519PrivateKey key, common::Ed25519PrivateKey::Generate());
  OFFBOARD_RETURN_IF_ERROR(key.Save(paths.SigningKey()));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(paths.PublicKey(), key.PublicKey().ToPem(), 0644));
  OFFBOARD_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Create(hostnames.front()));
  OFFBOARD_RETURN_IF_ERROR(ca.Save(paths.CaDir()));
  OFFBOARD_ASSIGN_OR_RETURN(CertificateAuthority::IssuedCertificate server,
                            ca.IssueServerCertificate(hostnames, kServerCertificateDays));
  OFFBOARD_RETURN_IF_ERROR(
      common::WriteFileAtomically(paths.ServerKey(), server.private_key_pem, 0600));
  OFFBOARD_RETURN_IF_ERROR(
      common::WriteFileAtomically(paths.ServerCertificate(), server.certificate_pem, 0644));
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
  boost::system::error_code error;
  if (boost::filesystem::exists(paths.Database(), error) ||
      boost::filesystem::exists(paths.SigningKey(), error)) {
    return absl::AlreadyExistsError(
        absl::StrCat(paths.dir.string(), " is already initialized; nothing was changed"));
  }
  const absl::Status status = InitFiles(paths, hostnames);
  if (!status.ok()) {
    for (const boost::filesystem::path& created :
         {paths.SigningKey(), paths.PublicKey(), paths.ServerKey(), paths.ServerCertificate(),
          paths.Database()}) {
      boost::filesystem::remove(created, error);
    }
    boost::filesystem::remove_all(paths.CaDir(), error);
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
