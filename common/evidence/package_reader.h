// Reads an evidence package as a stream, one member at a time, without
// extracting anything to disk, and refuses what a hostile package may hold:
// anything but regular files (links, directories, devices), names that are
// absolute, hold "..", "." or empty components, backslashes or control
// characters, a name given twice, members over the size limit, too many
// members, and a truncated or corrupt archive. Only gzip-compressed tar is
// read.
//
//   OFFBOARD_RETURN_IF_ERROR(ReadEvidencePackage(path, {}, [&](const PackageMember& m) {
//     return Check(m.name, m.bytes);
//   }));
//
// Errors are INVALID_ARGUMENT (DATA_LOSS for a truncated or corrupt
// archive), naming the package and the member ("PKG: member 12
// \"attestations/../x\": ..."). A non-OK status from the callback stops the
// read and is returned unchanged. Thread-compatible.
#ifndef OFFBOARD_COMMON_EVIDENCE_PACKAGE_READER_H_
#define OFFBOARD_COMMON_EVIDENCE_PACKAGE_READER_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

struct PackageLimits {
  uint64_t max_member_bytes = 256ull << 20;
  uint64_t max_total_bytes = 64ull << 30;
  uint64_t max_members = 10'000'000;
};

struct PackageMember {
  size_t ordinal = 0;  // 0 for the first member
  std::string name;
  std::string bytes;  // the callback may move it away
};

// OK when the name is one a package member may have (see above); otherwise
// INVALID_ARGUMENT saying why.
absl::Status CheckMemberName(absl::string_view name);

absl::Status ReadEvidencePackage(const boost::filesystem::path& package,
                                 const PackageLimits& limits,
                                 const std::function<absl::Status(PackageMember&)>& on_member);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_EVIDENCE_PACKAGE_READER_H_
