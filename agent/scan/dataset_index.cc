#include "agent/scan/dataset_index.h"

#include <algorithm>
#include <tuple>

#include "common/encoding/hex.h"

namespace offboard::agent {

absl::StatusOr<DatasetIndex> DatasetIndex::Build(const common::Inventory& inventory) {
  DatasetIndex index;
  for (const common::InventoryRecord& record : inventory.records) {
    index.dataset_ids_.push_back(record.dataset_id);
  }
  std::sort(index.dataset_ids_.begin(), index.dataset_ids_.end());
  index.dataset_ids_.erase(std::unique(index.dataset_ids_.begin(), index.dataset_ids_.end()),
                           index.dataset_ids_.end());

  index.entries_.reserve(inventory.records.size());
  index.sizes_.reserve(inventory.records.size());
  for (const common::InventoryRecord& record : inventory.records) {
    Entry entry{.size = record.size, .digest = {}, .dataset = 0};
    // The inventory parser guarantees 64 lowercase hex digits.
    const std::vector<uint8_t> digest = *common::HexDecode(record.sha256);
    std::copy(digest.begin(), digest.end(), entry.digest.begin());
    entry.dataset = static_cast<uint32_t>(
        std::lower_bound(index.dataset_ids_.begin(), index.dataset_ids_.end(), record.dataset_id) -
        index.dataset_ids_.begin());
    index.entries_.push_back(entry);
    index.sizes_.insert(record.size);
  }
  const auto key = [](const Entry& e) { return std::tie(e.size, e.digest, e.dataset); };
  std::sort(index.entries_.begin(), index.entries_.end(),
            [&](const Entry& a, const Entry& b) { return key(a) < key(b); });
  index.entries_.erase(
      std::unique(index.entries_.begin(), index.entries_.end(),
                  [&](const Entry& a, const Entry& b) { return key(a) == key(b); }),
      index.entries_.end());
  index.entries_.shrink_to_fit();
  return index;
}

std::vector<std::string> DatasetIndex::DatasetsFor(uint64_t size,
                                                   const common::Sha256Digest& digest) const {
  std::vector<std::string> datasets;
  if (!IsCandidateSize(size)) return datasets;
  auto it = std::lower_bound(
      entries_.begin(), entries_.end(), std::tie(size, digest),
      [](const Entry& e, const auto& wanted) { return std::tie(e.size, e.digest) < wanted; });
  for (; it != entries_.end() && it->size == size && it->digest == digest; ++it) {
    datasets.push_back(dataset_ids_[it->dataset]);
  }
  return datasets;
}

bool DatasetIndex::HasDataset(absl::string_view dataset_id) const {
  return std::binary_search(
      dataset_ids_.begin(), dataset_ids_.end(), dataset_id,
      [](const auto& a, const auto& b) { return absl::string_view(a) < absl::string_view(b); });
}

}  // namespace offboard::agent
