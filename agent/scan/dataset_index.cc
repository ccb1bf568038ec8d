#include "agent/scan/dataset_index.h"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

namespace offboard::agent {
namespace {

uint8_t HexValue(char c) { return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); }

}  // namespace

void DatasetIndex::Builder::Add(const common::InventoryRecord& record) {
  auto [number, inserted] =
      dataset_numbers_.try_emplace(record.dataset_id, static_cast<uint32_t>(dataset_ids_.size()));
  if (inserted) dataset_ids_.push_back(record.dataset_id);
  Entry& entry =
      entries_.emplace_back(Entry{.size = record.size, .digest = {}, .dataset = number->second});
  // The inventory parser guarantees 64 lowercase hex digits; decoding here
  // spares a million small allocations.
  for (size_t i = 0; i < entry.digest.size(); ++i) {
    entry.digest[i] = static_cast<uint8_t>(HexValue(record.sha256[2 * i]) << 4 |
                                           HexValue(record.sha256[2 * i + 1]));
  }
}

absl::StatusOr<DatasetIndex> DatasetIndex::Builder::Finish() && {
  DatasetIndex index;
  // Number the datasets in sorted order, so that DatasetsFor lists them so.
  std::vector<uint32_t> by_id(dataset_ids_.size());
  std::iota(by_id.begin(), by_id.end(), 0);
  std::sort(by_id.begin(), by_id.end(),
            [&](uint32_t a, uint32_t b) { return dataset_ids_[a] < dataset_ids_[b]; });
  std::vector<uint32_t> renumbered(dataset_ids_.size());
  for (uint32_t rank = 0; rank < by_id.size(); ++rank) {
    renumbered[by_id[rank]] = rank;
    index.dataset_ids_.push_back(std::move(dataset_ids_[by_id[rank]]));
  }
  dataset_numbers_.clear();
  for (Entry& entry : entries_) entry.dataset = renumbered[entry.dataset];

  index.entries_ = std::move(entries_);
  std::vector<Entry>& entries = index.entries_;
  const auto key = [](const Entry& e) { return std::tie(e.size, e.digest, e.dataset); };
  std::sort(entries.begin(), entries.end(),
            [&](const Entry& a, const Entry& b) { return key(a) < key(b); });
  const size_t written = entries.size();
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [&](const Entry& a, const Entry& b) { return key(a) == key(b); }),
                entries.end());
  // Capacity never written costs no memory, but the tail that repeated rows
  // leave behind does; a copy without it is worth its moment of extra memory
  // only when that tail is large.
  if (written - entries.size() > entries.size() / 4) entries.shrink_to_fit();

  // Sorted by size, so the distinct sizes are counted in one pass and the set
  // is sized once, without the rehashes that briefly double it.
  size_t distinct_sizes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    distinct_sizes += i == 0 || entries[i].size != entries[i - 1].size;
  }
  index.sizes_.reserve(distinct_sizes);
  for (const Entry& entry : entries) index.sizes_.insert(entry.size);
  return index;
}

absl::StatusOr<DatasetIndex> DatasetIndex::Build(const common::Inventory& inventory) {
  Builder builder;
  for (const common::InventoryRecord& record : inventory.records) builder.Add(record);
  return std::move(builder).Finish();
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
