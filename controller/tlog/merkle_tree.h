// The transparency log's tree in memory: RFC 9162 Merkle tree hashes of every
// accepted attestation, with the hashes of all complete, aligned subtrees
// kept, so that appending is O(log n) and an inclusion or consistency proof
// for any tree size is O(log² n) — not O(n) per receipt as recomputing from
// the leaves would be. Proofs equal those of common/merkle (RFC 9162 PATH and
// PROOF); the tests check them against it.
//
//   MerkleTree tree;
//   tree.Append(LeafHash(envelope));
//   MerkleHash root = tree.Root(tree.size());
//   OFFBOARD_ASSIGN_OR_RETURN(std::vector<MerkleHash> proof, tree.InclusionProof(5, tree.size()));
//
// Not thread-safe: the log serializes access.
#ifndef OFFBOARD_CONTROLLER_TLOG_MERKLE_TREE_H_
#define OFFBOARD_CONTROLLER_TLOG_MERKLE_TREE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/merkle/merkle.h"

namespace offboard::controller {

class MerkleTree {
 public:
  void Append(const common::MerkleHash& leaf_hash);
  // Forgets every leaf from `new_size` on (nothing when new_size >= size()),
  // as if they had never been appended.
  void Truncate(uint64_t new_size);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }

  // MTH of the first `tree_size` leaves (the empty-tree root for 0).
  // OUT_OF_RANGE when tree_size > size().
  absl::StatusOr<common::MerkleHash> Root(uint64_t tree_size) const;
  // PATH(leaf_index, D[tree_size]). OUT_OF_RANGE unless leaf_index < tree_size <= size().
  absl::StatusOr<std::vector<common::MerkleHash>> InclusionProof(uint64_t leaf_index,
                                                                 uint64_t tree_size) const;
  // PROOF(old_size, D[new_size]). INVALID_ARGUMENT unless 0 < old_size <= new_size <= size().
  absl::StatusOr<std::vector<common::MerkleHash>> ConsistencyProof(uint64_t old_size,
                                                                   uint64_t new_size) const;

 private:
  // MTH(D[begin:end]) for a range the RFC's recursion produces (begin is a
  // multiple of the largest power of two below end - begin, or the range is
  // complete and aligned).
  common::MerkleHash SubtreeHash(uint64_t begin, uint64_t end) const;
  void Path(uint64_t index, uint64_t begin, uint64_t end,
            std::vector<common::MerkleHash>& proof) const;
  void SubProof(uint64_t old_end, uint64_t begin, uint64_t end, bool whole,
                std::vector<common::MerkleHash>& proof) const;

  // levels_[k][i]: hash of the complete subtree of 2^k leaves starting at i·2^k.
  std::vector<std::vector<common::MerkleHash>> levels_;
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_TLOG_MERKLE_TREE_H_
