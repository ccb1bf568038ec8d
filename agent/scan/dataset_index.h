// The bank's inventory as the scanner needs it: "is a file of this size worth
// hashing?" and "which datasets hold content with this digest?", answered
// fast and in bounded memory (1M inventory files take about 70 MiB).
//
// Built from the records as they stream from the inventory file, so the
// inventory itself is never held:
//
//   DatasetIndex::Builder builder;
//   OFFBOARD_RETURN_IF_ERROR(common::ForEachInventoryRecord(path, [&](const auto& record) {
//     builder.Add(record);
//     return absl::OkStatus();
//   }));
//   OFFBOARD_ASSIGN_OR_RETURN(DatasetIndex index, std::move(builder).Finish());
//   if (index.IsCandidateSize(st.st_size)) { ... hash ... index.DatasetsFor(size, digest) }
//
// Immutable once built; safe to share between threads. A Builder is used by
// one thread.
#ifndef OFFBOARD_AGENT_SCAN_DATASET_INDEX_H_
#define OFFBOARD_AGENT_SCAN_DATASET_INDEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/sha256.h"
#include "common/inventory/inventory_csv.h"

namespace offboard::agent {

class DatasetIndex {
 private:
  struct Entry {
    uint64_t size;
    common::Sha256Digest digest;
    uint32_t dataset;  // index into dataset_ids_
  };

 public:
  // Collects inventory records, 48 bytes each, and sorts them into an index.
  class Builder {
   public:
    // `record` comes from the inventory parser: its sha256 is 64 lowercase
    // hex digits.
    void Add(const common::InventoryRecord& record);

    // Never fails today; StatusOr leaves room for limits on hostile
    // inventories.
    absl::StatusOr<DatasetIndex> Finish() &&;

   private:
    std::vector<Entry> entries_;            // dataset: index into dataset_ids_
    std::vector<std::string> dataset_ids_;  // in order of first appearance
    absl::flat_hash_map<std::string, uint32_t> dataset_numbers_;  // id -> index
  };

  // All records of an inventory already in memory.
  static absl::StatusOr<DatasetIndex> Build(const common::Inventory& inventory);

  bool IsCandidateSize(uint64_t size) const { return sizes_.contains(size); }

  // Ids of the datasets with an inventory file of exactly this size and
  // digest; usually one, empty when the content is not the bank's.
  std::vector<std::string> DatasetsFor(uint64_t size, const common::Sha256Digest& digest) const;

  bool HasDataset(absl::string_view dataset_id) const;

  size_t file_count() const { return entries_.size(); }

 private:
  DatasetIndex() = default;

  std::vector<Entry> entries_;  // sorted by (size, digest, dataset), unique
  absl::flat_hash_set<uint64_t> sizes_;
  std::vector<std::string> dataset_ids_;  // sorted, unique
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SCAN_DATASET_INDEX_H_
