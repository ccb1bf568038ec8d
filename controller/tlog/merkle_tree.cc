#include "controller/tlog/merkle_tree.h"

#include <bit>

#include "absl/strings/str_cat.h"

namespace offboard::controller {
namespace {

// The largest power of two strictly below n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace

void MerkleTree::Append(const common::MerkleHash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  // Each completed pair of subtrees completes one of the level above.
  for (size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
    if (level + 1 == levels_.size()) levels_.emplace_back();
    const std::vector<common::MerkleHash>& below = levels_[level];
    levels_[level + 1].push_back(
        common::NodeHash(below[below.size() - 2], below[below.size() - 1]));
  }
}

void MerkleTree::Truncate(uint64_t new_size) {
  if (new_size >= size()) return;
  // Level k keeps the complete subtrees of 2^k leaves below new_size.
  for (size_t level = 0; level < levels_.size(); ++level) levels_[level].resize(new_size >> level);
  while (levels_.size() > 1 && levels_.back().empty()) levels_.pop_back();
}

common::MerkleHash MerkleTree::SubtreeHash(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    return levels_[static_cast<size_t>(std::countr_zero(n))][begin / n];
  }
  const uint64_t k = SplitPoint(n);
  return common::NodeHash(SubtreeHash(begin, begin + k), SubtreeHash(begin + k, end));
}

absl::StatusOr<common::MerkleHash> MerkleTree::Root(uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::OutOfRangeError(absl::StrCat("tree size ", tree_size, " beyond the log's ", size()));
  }
  if (tree_size == 0) return common::EmptyTreeRoot();
  return SubtreeHash(0, tree_size);
}

void MerkleTree::Path(uint64_t index, uint64_t begin, uint64_t end,
                      std::vector<common::MerkleHash>& proof) const {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (index < begin + k) {
    Path(index, begin, begin + k, proof);
    proof.push_back(SubtreeHash(begin + k, end));
  } else {
    Path(index, begin + k, end, proof);
    proof.push_back(SubtreeHash(begin, begin + k));
  }
}

absl::StatusOr<std::vector<common::MerkleHash>> MerkleTree::InclusionProof(
    uint64_t leaf_index, uint64_t tree_size) const {
  if (tree_size > size() || leaf_index >= tree_size) {
    return absl::OutOfRangeError(absl::StrCat("leaf ", leaf_index, " is not in a tree of size ",
                                              tree_size, " (log size ", size(), ")"));
  }
  std::vector<common::MerkleHash> proof;
  Path(leaf_index, 0, tree_size, proof);
  return proof;
}

// SUBPROOF(m, D[begin:end], whole) of RFC 9162 section 2.1.4.1, with m given
// as the absolute end of the old tree.
void MerkleTree::SubProof(uint64_t old_end, uint64_t begin, uint64_t end, bool whole,
                          std::vector<common::MerkleHash>& proof) const {
  const uint64_t n = end - begin;
  if (old_end == end) {
    if (!whole) proof.push_back(SubtreeHash(begin, end));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (old_end <= begin + k) {
    SubProof(old_end, begin, begin + k, whole, proof);
    proof.push_back(SubtreeHash(begin + k, end));
  } else {
    SubProof(old_end, begin + k, end, false, proof);
    proof.push_back(SubtreeHash(begin, begin + k));
  }
}

absl::StatusOr<std::vector<common::MerkleHash>> MerkleTree::ConsistencyProof(
    uint64_t old_size, uint64_t new_size) const {
  if (old_size == 0 || old_size > new_size || new_size > size()) {
    return absl::InvalidArgumentError(absl::StrCat("no consistency proof from size ", old_size,
                                                   " to ", new_size, " (log size ", size(), ")"));
  }
  std::vector<common::MerkleHash> proof;
  SubProof(old_size, 0, new_size, true, proof);
  return proof;
}

}  // namespace offboard::controller
