#include "agent/wipe/wipe_engine.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/scan/scanner.h"
#include "agent/wipe/archive_rewriter.h"
#include "agent/wipe/record_redactor.h"
#include "agent/wipe/target_history.h"
#include "common/crypto/sha256.h"
#include "common/encoding/hex.h"
#include "common/status/errno_status.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

using common::UniqueFd;

TargetOutcome Failed(std::string reason, std::string method = "none") {
  return MakeOutcome(ItemStatus::kFailed, std::move(method), std::move(reason));
}

// Why a file cannot be opened for writing, in words a person can act on.
std::string OpenFailureReason(const WipeRoot& root, const std::string& path,
                              const absl::Status& status, bool cross_mounts) {
  if (absl::StrContains(status.message(), "Read-only file system")) {
    return absl::StrCat(path, ": on a read-only mount");
  }
  if (status.code() == absl::StatusCode::kPermissionDenied) {
    absl::StatusOr<ConfinedFile> readable = root.OpenFile(path, O_RDONLY, cross_mounts);
    int flags = 0;
    if (readable.ok() && ::ioctl(readable->fd.get(), FS_IOC_GETFLAGS, &flags) == 0) {
      if ((flags & FS_IMMUTABLE_FL) != 0) return absl::StrCat(path, ": immutable (chattr +i)");
      if ((flags & FS_APPEND_FL) != 0) return absl::StrCat(path, ": append-only (chattr +a)");
    }
  }
  return std::string(status.message());
}

}  // namespace

absl::StatusOr<std::vector<WipeItem>> WipeEngine::Execute(const WipePlan& plan,
                                                          WipeJournal& journal) {
  std::vector<std::vector<nlohmann::json>> histories(plan.targets.size());
  for (const nlohmann::json& record : journal.records()) {
    if (!record.contains("t") || !record["t"].is_number_unsigned()) continue;
    const size_t t = record["t"].get<size_t>();
    if (t < histories.size()) histories[t].push_back(record);
  }
  std::vector<WipeItem> items;
  // Inodes destroyed whole in this run, and the target that did it: another
  // name of the same inode (a hard link) finds an empty file afterwards.
  std::map<std::pair<uint64_t, uint64_t>, size_t> destroyed;
  std::vector<TargetOutcome> outcomes(plan.targets.size());
  names_in_plan_.clear();
  for (const WipeTarget& target : plan.targets) {
    if (target.action != WipeAction::kReportOnly) {
      names_in_plan_[{target.identity.device, target.identity.inode}].push_back(target.path);
    }
  }
  for (size_t t = 0; t < plan.targets.size(); ++t) {
    const WipeTarget& target = plan.targets[t];
    const std::pair<uint64_t, uint64_t> inode = {target.identity.device, target.identity.inode};
    const auto sibling = destroyed.find(inode);
    TargetOutcome& outcome = outcomes[t];
    const auto done = std::find_if(histories[t].begin(), histories[t].end(),
                                   [](const nlohmann::json& r) { return r["step"] == "done"; });
    if (done != histories[t].end()) {
      OFFBOARD_ASSIGN_OR_RETURN(outcome, TargetOutcomeFromJson((*done)["outcome"]));
    } else {
      bool journal_failed = false;
      absl::Status journal_error;
      const StepJournal step = [&](nlohmann::json record) {
        record["t"] = t;
        absl::Status status = journal.Append(std::move(record));
        if (!status.ok()) {
          journal_failed = true;
          journal_error = status;
        }
        return status;
      };
      absl::StatusOr<TargetOutcome> result =
          sibling == destroyed.end() || target.action == WipeAction::kReportOnly
              ? RunTarget(target, histories[t], step)
              : RemoveOtherName(target, plan.targets[sibling->second].path,
                                outcomes[sibling->second], step);
      if (journal_failed) return journal_error;
      outcome = result.ok() ? *std::move(result) : Failed(std::string(result.status().message()));
      OFFBOARD_RETURN_IF_ERROR(
          step({{"step", "done"}, {"outcome", TargetOutcomeToJson(outcome)}}));
    }
    if (outcome.status == ItemStatus::kWiped && outcome.method == "overwrite") {
      destroyed.try_emplace(inode, t);
    }
    for (const Finding& finding : target.findings) items.push_back({finding, outcome});
  }
  return items;
}

absl::StatusOr<TargetOutcome> WipeEngine::RunTarget(const WipeTarget& target,
                                                    const std::vector<nlohmann::json>& history,
                                                    const StepJournal& journal) {
  if (target.action == WipeAction::kReportOnly) {
    TargetOutcome outcome;
    outcome.status = ItemStatus::kSkipped;
    outcome.method = "none";
    outcome.reason = target.reason;
    return outcome;
  }
  const WipeRoot* root = FindRoot(roots_, target.path);
  if (root == nullptr) return Failed(absl::StrCat(target.path, ": outside the wipe roots"));
  if (target.action == WipeAction::kWipeFile) {
    return WipeWholeFile(*root, target, history, journal);
  }
  return RewriteAndWipe(*root, target, history, journal);
}

absl::StatusOr<TargetOutcome> WipeEngine::RemoveOtherName(const WipeTarget& target,
                                                          const std::string& destroyed_as,
                                                          const TargetOutcome& destroyed,
                                                          const StepJournal& journal) {
  const WipeRoot* root = FindRoot(roots_, target.path);
  if (root == nullptr) return Failed(absl::StrCat(target.path, ": outside the wipe roots"));
  TargetOutcome outcome = destroyed;
  outcome.reason = absl::StrCat("another name (hard link) of the inode destroyed as ",
                                destroyed_as, "; this name was removed");
  absl::StatusOr<ConfinedFile> file = root->OpenFile(target.path, O_RDONLY, cross_mounts_);
  if (!file.ok()) {
    // Already removed by an earlier, interrupted run of this step.
    if (absl::IsNotFound(file.status())) return outcome;
    return Failed(std::string(file.status().message()));
  }
  if (static_cast<uint64_t>(file->st.st_ino) != target.identity.inode || file->st.st_size != 0) {
    return MakeOutcome(ItemStatus::kNeedsReview, "none",
                       absl::StrCat(target.path, ": a hard link of ", destroyed_as,
                                    " when scanned, but now holds other data; left alone"));
  }
  OFFBOARD_RETURN_IF_ERROR(journal({{"step", "unlink"}, {"name", common::HexEncode(file->name)}}));
  if (::unlinkat(file->dir.get(), file->name.c_str(), 0) != 0 || ::fsync(file->dir.get()) != 0) {
    return Failed(common::ErrnoToStatus(errno, absl::StrCat("unlink ", target.path)).ToString());
  }
  return outcome;
}

uint64_t WipeEngine::NamesBelowRoots(const ConfinedFile& file) {
  const auto planned = names_in_plan_.find(
      {static_cast<uint64_t>(file.st.st_dev), static_cast<uint64_t>(file.st.st_ino)});
  if (planned == names_in_plan_.end()) return 0;
  // Distinct directory entries: two roots (or two paths) can reach one entry.
  std::set<std::tuple<dev_t, ino_t, std::string>> entries;
  for (const std::string& path : planned->second) {
    const WipeRoot* root = FindRoot(roots_, path);
    if (root == nullptr) continue;
    absl::StatusOr<ConfinedFile> name = root->OpenFile(path, O_RDONLY, cross_mounts_);
    struct stat dir {};
    if (name.ok() && name->st.st_dev == file.st.st_dev && name->st.st_ino == file.st.st_ino &&
        ::fstat(name->dir.get(), &dir) == 0) {
      entries.emplace(dir.st_dev, dir.st_ino, name->name);
    }
  }
  return entries.size();
}

std::optional<TargetOutcome> WipeEngine::LinkedOutsideRoots(const WipeTarget& target,
                                                            const ConfinedFile& file) {
  if (file.st.st_nlink <= 1) return std::nullopt;
  const uint64_t names = NamesBelowRoots(file);
  if (static_cast<uint64_t>(file.st.st_nlink) <= names) return std::nullopt;
  return MakeOutcome(
      ItemStatus::kNeedsReview, "none",
      absl::StrCat(target.path, ": the file has ", file.st.st_nlink, " hard links but only ", names,
                   " of them were found below the wipe roots; changing it would change the "
                   "others, which may be outside the roots, so it was left alone"));
}

absl::Status WipeEngine::CheckUnchanged(const WipeTarget& target, const ConfinedFile& file) {
  const FileIdentity& was = target.identity;
  const int64_t mtime_ns =
      static_cast<int64_t>(file.st.st_mtim.tv_sec) * 1000000000 + file.st.st_mtim.tv_nsec;
  if (static_cast<uint64_t>(file.st.st_dev) == was.device &&
      static_cast<uint64_t>(file.st.st_ino) == was.inode &&
      static_cast<uint64_t>(file.st.st_size) == was.size && mtime_ns == was.mtime_ns) {
    return absl::OkStatus();
  }
  // Changed: only a whole-file match can be checked again cheaply and surely.
  for (const Finding& finding : target.findings) {
    if (!finding.member.empty()) continue;
    if (finding.match == MatchKind::kExact) {
      ::lseek(file.fd.get(), 0, SEEK_SET);
      OFFBOARD_ASSIGN_OR_RETURN(common::Sha256Digest digest, common::Sha256Fd(file.fd.get()));
      if (common::HexEncode(digest) == finding.sha256) return absl::OkStatus();
    } else if (finding.match == MatchKind::kTag) {
      char value[256];
      const ssize_t length = ::fgetxattr(file.fd.get(), kDatasetXattr, value, sizeof(value));
      if (length > 0 && absl::string_view(value, static_cast<size_t>(length)) == finding.dataset_id) {
        return absl::OkStatus();
      }
    }
  }
  const bool whole_file_only =
      std::all_of(target.findings.begin(), target.findings.end(), [](const Finding& f) {
        return f.member.empty() && (f.match == MatchKind::kExact || f.match == MatchKind::kTag);
      });
  if (whole_file_only) {
    return absl::NotFoundError(absl::StrCat(
        target.path, ": changed since the scan and no longer holds the copy; left alone"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      target.path, ": changed since the scan; it must be examined again before it is touched"));
}

absl::StatusOr<TargetOutcome> WipeEngine::WipeWholeFile(const WipeRoot& root,
                                                        const WipeTarget& target,
                                                        const std::vector<nlohmann::json>& records,
                                                        const StepJournal& journal) {
  const TargetHistory history = ReadTargetHistory(records);
  const std::string method = target.action == WipeAction::kWipeFile || history.fallback
                                 ? "overwrite"
                                 : WipeActionName(target.action);
  if (!history.started()) {
    absl::StatusOr<ConfinedFile> file = root.OpenFile(target.path, O_RDWR, cross_mounts_);
    if (!file.ok()) return Failed(OpenFailureReason(root, target.path, file.status(), cross_mounts_));
    if (absl::Status unchanged = CheckUnchanged(target, *file); !unchanged.ok()) {
      TargetOutcome outcome;
      outcome.status = absl::IsNotFound(unchanged) ? ItemStatus::kSkipped : ItemStatus::kNeedsReview;
      outcome.method = "none";
      outcome.reason = std::string(unchanged.message());
      return outcome;
    }
    if (std::optional<TargetOutcome> linked = LinkedOutsideRoots(target, *file)) return *linked;
    OFFBOARD_ASSIGN_OR_RETURN(StorageFacts storage, ProbeStorage(file->fd.get()));
    OFFBOARD_RETURN_IF_ERROR(journal({{"step", "probe"}, {"storage", StorageFactsToJson(storage)}}));
    absl::StatusOr<DestroyOutcome> destroyed =
        DestroyFile(*file, policy_, DestroyState{}, journal, target.path, storage);
    if (!destroyed.ok()) return Failed(std::string(destroyed.status().message()), method);
    return WipedOutcome(*std::move(destroyed), method, target.reason);
  }
  return ResumeDestroy(root, target, history, target.path, method, journal);
}

}  // namespace offboard::agent
