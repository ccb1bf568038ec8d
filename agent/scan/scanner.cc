#include "agent/scan/scanner.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/scan/archive_source.h"
#include "agent/scan/tree_walker.h"
#include "common/io/unique_fd.h"

namespace offboard::agent {
namespace {

// Bounded hand-off from the walking thread to the examining threads, in
// batches so that a tree of small files does not pay a lock and a wake-up per
// file. The walk waits while `capacity` batches are queued; what examining
// threads put back (Requeue, and the split in Pop) comes on top but holds only
// files they took, so a huge tree never queues more than `capacity` batches
// plus the rest of one batch per examining thread.
using FileBatch = std::vector<WalkedFile>;

class FileQueue {
 public:
  explicit FileQueue(size_t capacity) : capacity_(capacity) {}

  void Push(FileBatch batch) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < capacity_; });
    queue_.push_back(std::move(batch));
    not_empty_.notify_one();
  }
  // Puts part of a batch taken from the queue back in front, without waiting
  // for room: the walk may be waiting for room itself. The queue then holds
  // more batches than its capacity, but no more files than were taken.
  void Requeue(FileBatch batch) {
    std::lock_guard lock(mutex_);
    queue_.push_front(std::move(batch));
    not_empty_.notify_one();
  }
  // The next batch, once the caller is done with the one it took before
  // (`working`, which Pop keeps). False once the queue is closed and drained
  // and no thread works on a batch whose rest could still be put back.
  bool Pop(FileBatch& batch, bool& working) {
    std::unique_lock lock(mutex_);
    if (working) {
      working = false;
      if (--working_ == 0 && closed_) not_empty_.notify_all();
    }
    ++idle_;
    not_empty_.wait(lock, [&] { return !queue_.empty() || (closed_ && working_ == 0); });
    --idle_;
    if (queue_.empty()) return false;
    batch = std::move(queue_.front());
    queue_.pop_front();
    ++working_;
    working = true;
    if (idle_ > 0 && queue_.empty() && batch.size() >= 2) {
      // Another thread waits for work and there is none: share this batch.
      const auto half = batch.begin() + static_cast<std::ptrdiff_t>(batch.size() / 2);
      queue_.emplace_front(std::make_move_iterator(half), std::make_move_iterator(batch.end()));
      batch.erase(half, batch.end());
      not_empty_.notify_one();
    } else {
      not_full_.notify_one();
    }
    return true;
  }
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<FileBatch> queue_;
  bool closed_ = false;
  int working_ = 0;  // threads examining a batch they took
  int idle_ = 0;     // threads waiting in Pop
};

// Files per batch: large enough to amortize the hand-off, small enough that
// both threads get work from a tree of a few large files.
constexpr size_t kBatchSize = 64;
// Wide enough to cover a few large files each worth a batch on its own
// (counting the sizes the walk knows; it stats only what d_type leaves open).
constexpr size_t kBatchBytes = 64 << 20;
// A file this large keeps a thread busy long enough that the rest of its
// batch should go to another.
constexpr uint64_t kRequeueAfterBytes = 4 << 20;

// What one examining thread found; merged when all are done.
struct WorkerResult {
  std::vector<Finding> findings;
  std::vector<ScanError> errors;
  ScanStats stats;
};

class FileExaminer {
 public:
  FileExaminer(const DatasetIndex& index, const FingerprintIndex* fingerprints,
               const ExaminationLimits& limits, const WalkOptions& walk_options,
               ScanProgress* progress)
      : index_(index),
        walk_options_(walk_options),
        matching_(fingerprints != nullptr && !fingerprints->empty()),
        examiner_(limits, matching_ ? fingerprints : nullptr),
        progress_(progress) {}

  // Examines one file; returns its size (0 when it could not be opened).
  uint64_t Examine(const WalkedFile& file, WorkerResult& out);

 private:
  std::string TaggedDataset(int fd) const;
  // Reads a small file whole; true when it is plain text that cannot be an
  // archive, so a file that is no candidate needs nothing more. Larger files
  // go to the StreamExaminer, which reads only what libarchive needs.
  // libarchive's uudecode bidder looks as far as 128 KiB.
  static constexpr size_t kSmallFileBytes = 128 << 10;
  bool IsPlainTextFile(int fd, ScanStats& stats);

  const DatasetIndex& index_;
  const WalkOptions walk_options_;
  const bool matching_;  // derived-copy fingerprints to match
  StreamExaminer examiner_;
  ScanProgress* progress_;
  uint64_t examined_ = 0;
  std::vector<uint8_t> head_;  // reused for every small file
};

std::string FileExaminer::TaggedDataset(int fd) const {
  char value[512];
  const ssize_t length = ::fgetxattr(fd, kDatasetXattr, value, sizeof(value));
  if (length <= 0) return "";
  const std::string dataset(absl::StripAsciiWhitespace(absl::string_view(value, length)));
  return index_.HasDataset(dataset) ? dataset : "";
}

bool FileExaminer::IsPlainTextFile(int fd, ScanStats& stats) {
  // One byte more than a small file can hold tells that this is the whole
  // file: only then can a "begin" line further on be ruled out.
  head_.resize(kSmallFileBytes + 1);
  size_t length = 0;
  while (length < head_.size()) {
    const ssize_t n =
        ::pread(fd, head_.data() + length, head_.size() - length, static_cast<off_t>(length));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;  // let the examiner read it and report the error
    length += static_cast<size_t>(n);
    // A regular file reads short only at its end: no second call to see 0.
    if (n == 0 || length < head_.size()) break;
  }
  stats.bytes_read += length;
  if (length > kSmallFileBytes) return false;
  return IsPlainTextHead(std::span<const uint8_t>(head_.data(), length));
}

uint64_t FileExaminer::Examine(const WalkedFile& file, WorkerResult& out) {
  absl::StatusOr<OpenedFile> opened = OpenWalkedFile(file, walk_options_);
  if (!opened.ok()) {
    // Removed since the walk: nothing left to find.
    if (!absl::IsNotFound(opened.status())) {
      out.errors.push_back(
          {.path = file.path, .member = {}, .reason = std::string(opened.status().message())});
    }
    return 0;
  }
  const int fd = opened->fd.get();
  const struct stat& info = opened->info;
  // The path shown is a sample: copying it for every small file costs more
  // than looking at the file.
  if (progress_ != nullptr && (++examined_ % 64 == 1 || info.st_size > (1 << 20))) {
    std::lock_guard lock(progress_->current_mutex);
    progress_->current_path = file.path;
  }
  const std::string tagged = TaggedDataset(fd);
  // The fast path for the many files that are neither candidates nor tagged
  // nor archives: no archive reader.
  if (tagged.empty() && !matching_ && info.st_size <= off_t{kSmallFileBytes} &&
      !index_.IsCandidateSize(static_cast<uint64_t>(info.st_size)) &&
      IsPlainTextFile(fd, out.stats)) {
    ++out.stats.files_scanned;
    if (progress_ != nullptr) {
      progress_->files.fetch_add(1, std::memory_order_relaxed);
      progress_->bytes.fetch_add(static_cast<uint64_t>(info.st_size), std::memory_order_relaxed);
    }
    return static_cast<uint64_t>(info.st_size);
  }
  ++out.stats.files_scanned;
  const FileIdentity identity{
      .device = static_cast<uint64_t>(info.st_dev),
      .inode = static_cast<uint64_t>(info.st_ino),
      .size = static_cast<uint64_t>(info.st_size),
      .mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec,
      .link_count = static_cast<uint64_t>(info.st_nlink)};
  const uint64_t size = identity.size;
  const size_t findings_before = out.findings.size();
  std::string file_sha256;

  const auto on_stream = [&](const StreamResult& stream) {
    const std::string sha256 = stream.hashed ? common::DigestHex(stream.sha256) : "";
    if (stream.member.empty()) file_sha256 = sha256;
    const auto add = [&](const std::string& dataset, MatchKind kind, uint64_t records) {
      out.findings.push_back(Finding{.dataset_id = dataset,
                                     .sha256 = sha256,
                                     .path = file.path,
                                     .member = stream.member,
                                     .match = kind,
                                     .size = stream.size,
                                     .records_matched = records,
                                     .identity = identity});
    };
    if (stream.hashed) {
      for (const std::string& dataset : index_.DatasetsFor(stream.size, stream.sha256)) {
        add(dataset, stream.member.empty() ? MatchKind::kExact : MatchKind::kArchive, 0);
      }
    }
    for (const DerivedMatch& derived : stream.derived) {
      add(derived.dataset_id, MatchKind::kDerived, derived.records_matched);
    }
  };
  const bool hash_file = !tagged.empty() || index_.IsCandidateSize(size);
  examiner_.ExamineFile(fd, file.path, size, hash_file, on_stream, out.errors, out.stats);

  if (!tagged.empty()) {
    out.findings.push_back(Finding{.dataset_id = tagged,
                                   .sha256 = file_sha256,
                                   .path = file.path,
                                   .member = {},
                                   .match = MatchKind::kTag,
                                   .size = size,
                                   .records_matched = 0,
                                   .identity = identity});
  }
  if (progress_ != nullptr) {
    progress_->files.fetch_add(1, std::memory_order_relaxed);
    progress_->bytes.fetch_add(size, std::memory_order_relaxed);
    progress_->findings.fetch_add(out.findings.size() - findings_before, std::memory_order_relaxed);
  }
  return size;
}

// Sorts `items` by key(item) and drops items whose key repeats.
template <typename T, typename Key>
void SortUnique(std::vector<T>& items, const Key& key) {
  std::sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  items.erase(std::unique(items.begin(), items.end(),
                          [&](const T& a, const T& b) { return key(a) == key(b); }),
              items.end());
}

void Merge(WorkerResult& from, ScanReport& into) {
  std::move(from.findings.begin(), from.findings.end(), std::back_inserter(into.findings));
  std::move(from.errors.begin(), from.errors.end(), std::back_inserter(into.errors));
  into.stats.files_scanned += from.stats.files_scanned;
  into.stats.bytes_read += from.stats.bytes_read;
  into.stats.archives_opened += from.stats.archives_opened;
  into.stats.members_examined += from.stats.members_examined;
  into.stats.bytes_decompressed += from.stats.bytes_decompressed;
}

}  // namespace

Scanner::Scanner(const DatasetIndex& index, const FingerprintIndex* fingerprints,
                 ScanOptions options)
    : index_(index), fingerprints_(fingerprints), options_(std::move(options)) {}

absl::StatusOr<ScanReport> Scanner::Run(ScanProgress* progress) {
  for (const boost::filesystem::path& root : options_.roots) {
    struct stat info {};
    if (::stat(root.c_str(), &info) != 0) {
      return absl::NotFoundError(
          absl::StrCat("scan root ", root.string(), ": ", std::strerror(errno)));
    }
    if (!S_ISDIR(info.st_mode) && !S_ISREG(info.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scan root ", root.string(), " is neither a directory nor a file"));
    }
  }
  const unsigned threads =
      options_.threads != 0 ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
  // Each queued file keeps its directory open: 8 queued batches, one being
  // filled, one blocked in Push, and per worker one being examined and one
  // put back bound that to (11 + 2 * threads) * 64 descriptors beyond the
  // walk's own path; the scan command raises the soft descriptor limit to the
  // hard one for that.
  FileQueue queue(8);
  const WalkOptions walk_options{.cross_filesystems = options_.cross_filesystems};
  std::vector<WorkerResult> results(threads);
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      FileExaminer examiner(index_, fingerprints_, options_.limits, walk_options, progress);
      FileBatch batch;
      bool working = false;
      while (queue.Pop(batch, working)) {
        for (size_t k = 0; k < batch.size(); ++k) {
          // The walk knows no sizes of most files, so a batch may hold many
          // large ones: after a large file, the second half of the rest goes
          // back to the queue for an idle thread, and this one goes on with
          // the first (taking the half back itself would leave the other
          // thread idle).
          const size_t rest = batch.size() - (k + 1);
          if (examiner.Examine(batch[k], results[i]) >= kRequeueAfterBytes && rest >= 2) {
            const auto half = batch.begin() + static_cast<std::ptrdiff_t>(k + 1 + rest / 2);
            queue.Requeue(
                FileBatch(std::make_move_iterator(half), std::make_move_iterator(batch.end())));
            batch.erase(half, batch.end());
          }
        }
      }
    });
  }
  ScanReport report;
  absl::Status walk_status;
  FileBatch batch;
  uint64_t batch_bytes = 0;
  const auto enqueue = [&](WalkedFile file) {
    batch_bytes += static_cast<uint64_t>(file.info.st_size);
    batch.push_back(std::move(file));
    if (batch.size() >= kBatchSize || batch_bytes >= kBatchBytes) {
      queue.Push(std::move(batch));
      batch = FileBatch();
      batch_bytes = 0;
    }
  };
  for (const boost::filesystem::path& root : options_.roots) {
    walk_status = WalkTree(root, walk_options, enqueue, report.errors);
    if (!walk_status.ok()) break;
  }
  if (!batch.empty()) queue.Push(std::move(batch));
  queue.Close();
  for (std::thread& worker : workers) worker.join();
  if (!walk_status.ok()) return walk_status;
  for (WorkerResult& result : results) Merge(result, report);

  // Overlapping roots (a root inside another) examine some files twice;
  // each copy and each error is still reported once.
  SortUnique(report.findings,
             [](const Finding& f) { return std::tie(f.path, f.member, f.dataset_id, f.match); });
  SortUnique(report.errors,
             [](const ScanError& e) { return std::tie(e.path, e.member, e.reason); });
  return report;
}

}  // namespace offboard::agent
