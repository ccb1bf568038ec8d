// Derived-copy detection: finds records of a dataset inside text (CSV, TSV,
// JSON lines, plain text) without the raw identifiers ever leaving the bank.
//
// The bank's fingerprint file gives, per dataset, an HMAC key, an identifier
// regex and the HMAC-SHA256 of each record identifier. A stream in which at
// least `min_matches` distinct identifiers hash to one of those digests is a
// derived copy. The HMAC key stays in memory only.
//
// Identifiers: each set's regex is compiled as common/inventory/
// identifier_regex.h says (RE2, one line at a time, group 1 the identifier;
// Build rejects what RE2 cannot run, naming the dataset). The identifier's
// exact bytes are HMAC'd, and empty identifiers are ignored. The regex applies
// to each line on its own: no match spans a newline, ^ and $ anchor at line
// boundaries. A line longer than 1 MiB is examined in pieces cut after a
// delimiter (space, tab, , ; | " '), so an identifier there is rarely split.
// Records are counted as distinct matching digests: an identifier repeated in a
// stream counts once.
//
// Memory: the index holds ~35 bytes per digest (36 MiB for 1M); a matcher holds
// at most one line (1 MiB) plus 4 bytes per distinct matched record.
//
//   OFFBOARD_ASSIGN_OR_RETURN(FingerprintIndex index, FingerprintIndex::Build(sets));
//   DerivedMatcher matcher(index);           // one per stream
//   matcher.Consume(chunk1); matcher.Consume(chunk2);
//   std::vector<DerivedMatch> matches = matcher.Finish();
//
// RecordDetector asks the same question of one line for chosen datasets, for
// redaction (agent/wipe/record_redactor.h):
//
//   OFFBOARD_ASSIGN_OR_RETURN(RecordDetector detector,
//                             RecordDetector::Create(index, {"customers"}));
//   if (detector.LineHoldsRecord(line)) ...  // drop the line
//
// FingerprintIndex is immutable after Build and safe to share between threads;
// it must outlive, and not be moved under, its matchers and detectors. Build
// wipes the keys in the sets it is given. A DerivedMatcher is used by one
// thread; a RecordDetector is immutable and may be shared.
#ifndef OFFBOARD_AGENT_SCAN_DERIVED_MATCHER_H_
#define OFFBOARD_AGENT_SCAN_DERIVED_MATCHER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/scan/byte_source.h"
#include "common/inventory/fingerprint_set.h"

namespace offboard::agent {

struct DerivedMatch {
  std::string dataset_id;
  uint64_t records_matched = 0;  // distinct identifiers whose HMAC is in the set
};

class FingerprintIndex {
 public:
  // INVALID_ARGUMENT naming the dataset when an identifier regex cannot be
  // compiled for scanning.
  static absl::StatusOr<FingerprintIndex> Build(std::vector<common::FingerprintSet> sets);

  FingerprintIndex(FingerprintIndex&&) noexcept;
  FingerprintIndex& operator=(FingerprintIndex&&) noexcept;
  ~FingerprintIndex();

  bool empty() const;

 private:
  friend class DerivedMatcher;
  friend class RecordDetector;
  struct Compiled;
  explicit FingerprintIndex(std::vector<std::unique_ptr<Compiled>> sets);
  std::vector<std::unique_ptr<Compiled>> sets_;
};

class DerivedMatcher final : public ContentConsumer {
 public:
  explicit DerivedMatcher(const FingerprintIndex& index);
  ~DerivedMatcher() override;

  void Consume(std::span<const uint8_t> chunk) override;
  // Datasets with at least min_matches distinct identifiers, in index order.
  // Binary content (a NUL byte) yields no matches.
  std::vector<DerivedMatch> Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Whether a line holds a record of one of the chosen datasets.
class RecordDetector {
 public:
  // INVALID_ARGUMENT when `datasets` is empty or names a dataset that is not
  // in `index` (a typo would otherwise redact nothing, silently).
  static absl::StatusOr<RecordDetector> Create(const FingerprintIndex& index,
                                               const absl::flat_hash_set<std::string>& datasets);

  // True when `line` holds at least one identifier, extracted as DerivedMatcher
  // does, whose HMAC is in the digests of a chosen dataset. `line` is one line,
  // with or without its line ending; were it several, any of them counts. It
  // is examined whole, whatever its length: bounding it is the caller's job.
  bool LineHoldsRecord(absl::string_view line) const;

 private:
  RecordDetector(const FingerprintIndex& index, std::vector<bool> chosen)
      : index_(&index), chosen_(std::move(chosen)) {}

  const FingerprintIndex* index_;
  std::vector<bool> chosen_;  // per dataset, in index order
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_DERIVED_MATCHER_H_
