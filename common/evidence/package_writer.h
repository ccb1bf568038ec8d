// Writes an evidence package (evidence_package.h): members are added one at a
// time and spooled, hashed, to an unlinked temporary file beside the output,
// so that a package of any size is written in bounded memory; Finish() then
// writes the gzip-compressed POSIX tar with the signed manifest first and
// moves it into place. Until Finish() succeeds no file exists at the output
// path, and an abandoned writer leaves nothing behind.
//
//   OFFBOARD_ASSIGN_OR_RETURN(auto writer, EvidencePackageWriter::Create(out, exported_at));
//   OFFBOARD_RETURN_IF_ERROR(writer->Add("inventory.csv", csv));
//   OFFBOARD_RETURN_IF_ERROR(writer->Finish([&](const std::vector<ManifestEntry>& members) {
//     return SignManifest(members);  // the bytes of manifest.json
//   }));
//
// Members are written as regular files, mode 0644, owner 0:0, with the
// package's time as mtime, so the same content gives the same tar.
// Not thread-safe.
#ifndef OFFBOARD_COMMON_EVIDENCE_PACKAGE_WRITER_H_
#define OFFBOARD_COMMON_EVIDENCE_PACKAGE_WRITER_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/evidence/evidence_package.h"
#include "common/io/unique_fd.h"

namespace offboard::common {

class EvidencePackageWriter {
 public:
  // ALREADY_EXISTS when `out` exists (a package is never overwritten);
  // errors name the path.
  static absl::StatusOr<std::unique_ptr<EvidencePackageWriter>> Create(
      const boost::filesystem::path& out, int64_t mtime);

  // INVALID_ARGUMENT for a name that is no member of the format, a name given
  // twice, or manifest.json (Finish writes it).
  absl::Status Add(const std::string& name, absl::string_view bytes);

  // `manifest` receives every added member in order and returns the bytes of
  // manifest.json. The package is complete and durable (fsync, rename,
  // directory fsync) when this returns OK.
  absl::Status Finish(
      const std::function<absl::StatusOr<std::string>(const std::vector<ManifestEntry>&)>&
          manifest);

 private:
  EvidencePackageWriter(boost::filesystem::path out, int64_t mtime, UniqueFd spool)
      : out_(std::move(out)), mtime_(mtime), spool_(std::move(spool)) {}

  boost::filesystem::path out_;
  int64_t mtime_;
  UniqueFd spool_;
  uint64_t spooled_ = 0;
  std::vector<ManifestEntry> members_;
  absl::flat_hash_set<std::string> names_;
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_EVIDENCE_PACKAGE_WRITER_H_
