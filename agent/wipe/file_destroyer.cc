#include "agent/wipe/file_destroyer.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

absl::Status SyncDirectory(int dir_fd, absl::string_view display_path) {
  if (::fsync(dir_fd) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fsync the directory of ", display_path));
  }
  return absl::OkStatus();
}

bool ShouldVerify(const offboard::v1::WipePolicy& policy, int pass) {
  switch (policy.verification()) {
    case offboard::v1::VERIFICATION_ALL:
      return true;
    case offboard::v1::VERIFICATION_LAST:
      return pass + 1 == policy.passes_size();
    default:
      return false;
  }
}

}  // namespace

std::string RandomFileName(size_t length) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  length = std::max<size_t>(length, 12);
  std::string bytes(length, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(length)) != 1) {
    // Never reached in practice; a predictable name is still a valid name.
    for (size_t i = 0; i < length; ++i) bytes[i] = static_cast<char>(i * 7919);
  }
  std::string name(length, 'a');
  for (size_t i = 0; i < length; ++i) {
    name[i] = kAlphabet[static_cast<unsigned char>(bytes[i]) % (sizeof(kAlphabet) - 1)];
  }
  return name;
}

common::Assurance AchievedAssurance(const StorageFacts& storage,
                                    const std::vector<PassRecord>& passes) {
  if (passes.empty() || !passes.back().verified) return common::Assurance::kLogicalOnly;
  return BestAchievableAssurance(storage);
}

absl::StatusOr<DestroyOutcome> DestroyFile(ConfinedFile& file,
                                           const offboard::v1::WipePolicy& policy,
                                           const DestroyState& state, const StepJournal& journal,
                                           absl::string_view display_path,
                                           std::optional<StorageFacts> storage) {
  DestroyOutcome outcome;
  struct stat now {};
  if (::fstat(file.fd.get(), &now) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("fstat ", display_path));
  }
  outcome.link_count = now.st_nlink;
  if (!storage) {
    OFFBOARD_ASSIGN_OR_RETURN(storage, ProbeStorage(file.fd.get()));
  }
  outcome.storage = *std::move(storage);
  outcome.passes = state.passes_done;

  if (!state.truncated) {
    const uint64_t block = now.st_blksize > 0 ? static_cast<uint64_t>(now.st_blksize) : 4096;
    OFFBOARD_ASSIGN_OR_RETURN(
        std::vector<Extent> extents,
        AllocatedExtents(file.fd.get(), static_cast<uint64_t>(now.st_size), block));
    for (const Extent& extent : extents) outcome.bytes_overwritten += extent.length;
    for (int k = static_cast<int>(state.passes_done.size()); k < policy.passes_size(); ++k) {
      OFFBOARD_RETURN_IF_ERROR(journal({{"step", "pass"}, {"k", k}}));
      OFFBOARD_ASSIGN_OR_RETURN(PatternStream pattern, PatternStream::ForPass(policy.passes(k)));
      OFFBOARD_RETURN_IF_ERROR(WritePass(file.fd.get(), extents, pattern, display_path));
      PassRecord record{.pattern = pattern.name(), .verified = false, .verify_method = ""};
      if (ShouldVerify(policy, k)) {
        OFFBOARD_ASSIGN_OR_RETURN(VerifyMethod method,
                                  VerifyPass(file.fd.get(), extents, pattern, display_path));
        record.verified = true;
        record.verify_method = VerifyMethodName(method);
      }
      OFFBOARD_RETURN_IF_ERROR(journal({{"step", "pass_done"},
                                        {"k", k},
                                        {"pattern", record.pattern},
                                        {"verified", record.verified},
                                        {"method", record.verify_method}}));
      outcome.passes.push_back(std::move(record));
    }
  }

  // Renames hide the name (and its length) from the directory's old blocks.
  outcome.renames = state.renames_done;
  for (uint32_t round = state.renames_done; round < policy.rename_rounds(); ++round) {
    std::string next = RandomFileName(file.name.size());
    OFFBOARD_RETURN_IF_ERROR(journal({{"step", "rename"},
                                      {"from", common::HexEncode(file.name)},
                                      {"to", common::HexEncode(next)}}));
    if (::renameat2(file.dir.get(), file.name.c_str(), file.dir.get(), next.c_str(),
                    RENAME_NOREPLACE) != 0) {
      return common::ErrnoToStatus(errno, absl::StrCat("rename ", display_path));
    }
    OFFBOARD_RETURN_IF_ERROR(SyncDirectory(file.dir.get(), display_path));
    file.name = std::move(next);
    ++outcome.renames;
  }

  if (!state.truncated) {
    OFFBOARD_RETURN_IF_ERROR(journal({{"step", "truncate"}}));
    if (::ftruncate(file.fd.get(), 0) != 0 || ::fdatasync(file.fd.get()) != 0) {
      return common::ErrnoToStatus(errno, absl::StrCat("truncate ", display_path));
    }
  }

  // The name is ours unless someone with write access to the directory swapped
  // it in the meantime; then the other file keeps its name.
  if (!NameHoldsInode(file.dir.get(), file.name, static_cast<uint64_t>(now.st_dev),
                      static_cast<uint64_t>(now.st_ino))) {
    return absl::AbortedError(absl::StrCat(
        display_path, ": its (renamed) name no longer refers to the wiped file; not unlinking"));
  }
  OFFBOARD_RETURN_IF_ERROR(
      journal({{"step", "unlink"}, {"name", common::HexEncode(file.name)}}));
  if (::unlinkat(file.dir.get(), file.name.c_str(), 0) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("unlink ", display_path));
  }
  OFFBOARD_RETURN_IF_ERROR(SyncDirectory(file.dir.get(), display_path));

  outcome.assurance = AchievedAssurance(outcome.storage, outcome.passes);
  if (outcome.link_count > 1) {
    outcome.note = absl::StrCat("the inode had ", outcome.link_count,
                                " names; its content was overwritten and truncated, and ",
                                outcome.link_count - 1, " other name(s) now show an empty file");
  }
  return outcome;
}

}  // namespace offboard::agent
