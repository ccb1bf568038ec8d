// The parts of the wipe engine that keep a file's other content: writing an
// archive again without the bank's members, or a text file without the
// bank's records, and replacing the original atomically; and continuing the
// destruction of an inode after a crash.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/wipe/archive_rewriter.h"
#include "agent/wipe/record_redactor.h"
#include "agent/wipe/wipe_engine.h"
#include "common/encoding/hex.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

using common::UniqueFd;

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string JoinName(const std::string& dir, const std::string& name) {
  return dir == "/" ? absl::StrCat("/", name) : absl::StrCat(dir, "/", name);
}

// Removes the new version and the hidden second name of an unfinished
// rewrite; the original file keeps its name and content.
void UndoRewrite(int dir, const std::optional<std::string>& temp,
                 const std::optional<std::string>& hold, const FileIdentity& identity) {
  if (temp) ::unlinkat(dir, temp->c_str(), 0);
  if (hold && NameHoldsInode(dir, *hold, identity.device, identity.inode)) {
    ::unlinkat(dir, hold->c_str(), 0);
  }
  ::fsync(dir);
}

}  // namespace

absl::StatusOr<TargetOutcome> WipeEngine::ResumeDestroy(const WipeRoot& root,
                                                        const WipeTarget& target,
                                                        const TargetHistory& history,
                                                        const std::string& start_path,
                                                        const std::string& method,
                                                        const StepJournal& journal) {
  const std::string parent = ParentOf(start_path);
  absl::StatusOr<ConfinedFile> dir = root.OpenParent(start_path, cross_mounts_);
  if (!dir.ok()) return MakeOutcome(ItemStatus::kFailed, method, std::string(dir.status().message()));
  StorageFacts storage;
  if (history.storage) {
    OFFBOARD_ASSIGN_OR_RETURN(storage, StorageFactsFromJson(*history.storage));
  }

  // The names the inode has had, in the order the journal announced them; the
  // latest one that still holds it is where it is (the earlier ones are gone
  // by then, and the last may be announced but never taken).
  std::vector<std::string> chain = {BaseName(start_path)};
  for (const auto& [from, to] : history.renames) {
    if (from != chain.back()) break;
    chain.push_back(to);
  }
  std::string name;
  uint32_t renames_done = 0;
  for (size_t i = chain.size(); i-- > 0;) {
    if (NameHoldsInode(dir->dir.get(), chain[i], target.identity.device, target.identity.inode)) {
      name = chain[i];
      renames_done = static_cast<uint32_t>(i);
      break;
    }
  }
  if (name.empty()) {
    if (!history.unlink_started) {
      return MakeOutcome(ItemStatus::kFailed, method,
                     absl::StrCat(target.path, ": interrupted, and afterwards no name in ",
                                  parent, " holds its inode; the journal cannot show it was "
                                          "destroyed"));
    }
    // Interrupted after the unlink: every step before it completed.
    DestroyOutcome destroyed;
    destroyed.passes = history.passes_done;
    destroyed.renames = static_cast<uint32_t>(history.renames.size());
    destroyed.storage = storage;
    destroyed.assurance = AchievedAssurance(storage, destroyed.passes);
    destroyed.link_count = target.identity.link_count;
    return WipedOutcome(std::move(destroyed), method,
                        absl::StrCat(target.reason, "; resumed after an interruption"));
  }
  absl::StatusOr<ConfinedFile> file = root.OpenFile(JoinName(parent, name), O_RDWR, cross_mounts_);
  if (!file.ok()) return MakeOutcome(ItemStatus::kFailed, method, std::string(file.status().message()));
  // The open walks the path again from the root: the name may have been given
  // to another file since the check above. Only the planned inode is touched.
  if (static_cast<uint64_t>(file->st.st_dev) != target.identity.device ||
      static_cast<uint64_t>(file->st.st_ino) != target.identity.inode) {
    return MakeOutcome(ItemStatus::kFailed, method,
                       absl::StrCat(target.path, ": interrupted, and ", JoinName(parent, name),
                                    " now names another file; not touched"));
  }
  DestroyState state{.passes_done = history.passes_done,
                     .renames_done = renames_done,
                     .truncated = history.truncate_started};
  absl::StatusOr<DestroyOutcome> destroyed =
      DestroyFile(*file, policy_, state, journal, target.path, storage);
  if (!destroyed.ok()) {
    return MakeOutcome(ItemStatus::kFailed, method, std::string(destroyed.status().message()));
  }
  return WipedOutcome(*std::move(destroyed), method,
                      absl::StrCat(target.reason, "; resumed after an interruption"));
}

absl::StatusOr<TargetOutcome> WipeEngine::RewriteAndWipe(const WipeRoot& root,
                                                         const WipeTarget& target,
                                                         const std::vector<nlohmann::json>& records,
                                                         const StepJournal& journal) {
  const bool archive = target.action == WipeAction::kRewriteArchive;
  const std::string method = WipeActionName(target.action);
  const std::string parent = ParentOf(target.path);
  const TargetHistory history = ReadTargetHistory(records);

  if (history.fallback) return ResumeDestroy(root, target, history, target.path, "overwrite", journal);
  if (history.started()) {
    absl::StatusOr<ConfinedFile> dir = root.OpenParent(target.path, cross_mounts_);
    if (!dir.ok()) return MakeOutcome(ItemStatus::kFailed, method, std::string(dir.status().message()));
    if (history.replace_started && history.hold_name) {
      // The new version may not have been renamed over the original yet.
      const std::string original = BaseName(target.path);
      if (history.temp_name && NameHoldsInode(dir->dir.get(), original, target.identity.device,
                                              target.identity.inode)) {
        if (::renameat(dir->dir.get(), history.temp_name->c_str(), dir->dir.get(),
                       original.c_str()) != 0 ||
            ::fsync(dir->dir.get()) != 0) {
          return MakeOutcome(ItemStatus::kFailed, method,
                         common::ErrnoToStatus(errno, absl::StrCat("replace ", target.path))
                             .ToString());
        }
      }
      return ResumeDestroy(root, target, history, JoinName(parent, *history.hold_name), method,
                           journal);
    }
    // Interrupted before the replacement: nothing of the original changed.
    UndoRewrite(dir->dir.get(), history.temp_name, history.hold_name, target.identity);
  }

  absl::StatusOr<ConfinedFile> file = root.OpenFile(target.path, O_RDWR, cross_mounts_);
  if (!file.ok()) return MakeOutcome(ItemStatus::kFailed, method, std::string(file.status().message()));
  if (absl::Status unchanged = CheckUnchanged(target, *file); !unchanged.ok()) {
    return MakeOutcome(ItemStatus::kNeedsReview, "none", std::string(unchanged.message()));
  }
  // The old inode is destroyed in place after the rewrite: not when another
  // name of it may be outside the roots.
  if (std::optional<TargetOutcome> linked = LinkedOutsideRoots(target, *file)) return *linked;
  if (!archive && fingerprints_ == nullptr) {
    return MakeOutcome(ItemStatus::kFailed, method,
                   absl::StrCat(target.path, ": redaction needs the dataset's fingerprints"));
  }
  OFFBOARD_ASSIGN_OR_RETURN(StorageFacts storage, ProbeStorage(file->fd.get()));
  OFFBOARD_RETURN_IF_ERROR(journal({{"step", "probe"}, {"storage", StorageFactsToJson(storage)}}));

  // A second name keeps the old inode reachable until it is destroyed, even
  // if the agent dies right after the replacement.
  const std::string hold = absl::StrCat(".offboard-old-", RandomFileName(12));
  OFFBOARD_RETURN_IF_ERROR(journal({{"step", "hold"}, {"name", common::HexEncode(hold)}}));
  const std::string self = absl::StrCat("/proc/self/fd/", file->fd.get());
  if (::linkat(AT_FDCWD, self.c_str(), file->dir.get(), hold.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return MakeOutcome(ItemStatus::kFailed, method,
                   common::ErrnoToStatus(errno, absl::StrCat("link ", target.path)).ToString());
  }
  const std::string temp = absl::StrCat(".offboard-new-", RandomFileName(12));
  OFFBOARD_RETURN_IF_ERROR(journal({{"step", "rewrite"}, {"temp", common::HexEncode(temp)}}));
  UniqueFd out(::openat(file->dir.get(), temp.c_str(),
                        O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  absl::Status written = out ? absl::OkStatus()
                             : common::ErrnoToStatus(errno, absl::StrCat("create ", temp));
  if (written.ok()) {
    if (archive) {
      written = RewriteArchiveWithout(file->fd.get(), out.get(), target.drop_members, target.path)
                    .status();
    } else {
      const absl::flat_hash_set<std::string> datasets(target.redact_datasets.begin(),
                                                      target.redact_datasets.end());
      written = RedactRecords(file->fd.get(), out.get(), *fingerprints_, datasets, target.path)
                    .status();
    }
  }
  if (written.ok()) {
    // Best effort for the owner (only root may give files away); the mode always.
    (void)::fchown(out.get(), file->st.st_uid, file->st.st_gid);
    if (::fchmod(out.get(), file->st.st_mode & 07777) != 0 || ::fsync(out.get()) != 0) {
      written = common::ErrnoToStatus(errno, absl::StrCat("sync the new version of ", target.path));
    }
  }
  if (!written.ok()) {
    UndoRewrite(file->dir.get(), temp, hold, target.identity);
    // A compressed single file is all member: removing the member is removing it.
    const bool whole_is_member = archive && IsCompressedSingleFile(written);
    const bool unwritable = archive && (absl::IsUnimplemented(written) ||
                                        absl::IsResourceExhausted(written));
    if (!unwritable) return MakeOutcome(ItemStatus::kFailed, method, std::string(written.message()));
    if (!whole_is_member &&
        policy_.unwritable_archives() != offboard::v1::UNWRITABLE_ARCHIVE_ACTION_WIPE_WHOLE_ARCHIVE) {
      return MakeOutcome(ItemStatus::kNeedsReview, "none",
                     absl::StrCat(written.message(), "; the policy asks for review"));
    }
    OFFBOARD_RETURN_IF_ERROR(journal({{"step", "fallback"}}));
    absl::StatusOr<DestroyOutcome> destroyed =
        DestroyFile(*file, policy_, DestroyState{}, journal, target.path, storage);
    if (!destroyed.ok()) {
      return MakeOutcome(ItemStatus::kFailed, "overwrite", std::string(destroyed.status().message()));
    }
    return WipedOutcome(*std::move(destroyed), "overwrite",
                        absl::StrCat(written.message(), whole_is_member
                                                            ? "; wiped whole"
                                                            : "; the policy wipes the whole archive"));
  }

  OFFBOARD_RETURN_IF_ERROR(journal({{"step", "replace"}}));
  if (::renameat(file->dir.get(), temp.c_str(), file->dir.get(), file->name.c_str()) != 0 ||
      ::fsync(file->dir.get()) != 0) {
    return MakeOutcome(ItemStatus::kFailed, method,
                   common::ErrnoToStatus(errno, absl::StrCat("replace ", target.path)).ToString());
  }
  // Now destroy the old inode under its hidden name.
  file->name = hold;
  absl::StatusOr<DestroyOutcome> destroyed =
      DestroyFile(*file, policy_, DestroyState{}, journal, target.path, storage);
  if (!destroyed.ok()) {
    return MakeOutcome(ItemStatus::kFailed, method, std::string(destroyed.status().message()));
  }
  DestroyOutcome result = *std::move(destroyed);
  result.link_count = target.identity.link_count;
  return WipedOutcome(std::move(result), method,
                      absl::StrCat(target.reason, "; the old version was destroyed in place"));
}

}  // namespace offboard::agent
