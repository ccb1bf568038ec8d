// The incremental tree must give exactly the roots and proofs of the
// reference implementation in common/merkle (itself checked against the
// RFC 6962 vectors), for every size, leaf and pair of sizes up to 130.
#include "controller/tlog/merkle_tree.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace offboard::controller {
namespace {

std::vector<common::MerkleHash> Leaves(int count) {
  std::vector<common::MerkleHash> leaves;
  for (int i = 0; i < count; ++i) leaves.push_back(common::LeafHash("entry " + std::to_string(i)));
  return leaves;
}

TEST(MerkleTreeTest, RootsAndProofsEqualTheReference) {
  const std::vector<common::MerkleHash> leaves = Leaves(130);
  MerkleTree tree;
  EXPECT_EQ(*tree.Root(0), common::EmptyTreeRoot());
  for (const auto& leaf : leaves) tree.Append(leaf);
  ASSERT_EQ(tree.size(), 130u);
  for (uint64_t size = 1; size <= leaves.size(); ++size) {
    const std::span<const common::MerkleHash> prefix(leaves.data(), size);
    ASSERT_EQ(*tree.Root(size), common::RootFromLeafHashes(prefix)) << size;
    for (uint64_t index = 0; index < size; ++index) {
      ASSERT_EQ(*tree.InclusionProof(index, size), *common::InclusionProof(prefix, index))
          << index << "/" << size;
    }
    for (uint64_t old_size = 1; old_size <= size; ++old_size) {
      const auto proof = tree.ConsistencyProof(old_size, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, *common::ConsistencyProof(prefix, old_size)) << old_size << "->" << size;
      ASSERT_TRUE(common::VerifyConsistency(old_size, size, *proof, *tree.Root(old_size),
                                            *tree.Root(size))
                      .ok());
    }
  }
}

TEST(MerkleTreeTest, TruncateForgetsLeavesAsIfNeverAppended) {
  const std::vector<common::MerkleHash> leaves = Leaves(70);
  for (uint64_t keep : {0u, 1u, 2u, 3u, 31u, 32u, 33u, 64u, 69u, 70u}) {
    MerkleTree tree;
    for (const auto& leaf : leaves) tree.Append(leaf);
    tree.Truncate(keep);
    ASSERT_EQ(tree.size(), keep);
    // Appending again after the cut gives the tree of the leaves in order.
    for (uint64_t i = keep; i < leaves.size(); ++i) tree.Append(leaves[i]);
    MerkleTree fresh;
    for (const auto& leaf : leaves) fresh.Append(leaf);
    for (uint64_t size = 1; size <= leaves.size(); size += 7) {
      ASSERT_EQ(*tree.Root(size), *fresh.Root(size)) << keep << " " << size;
      ASSERT_EQ(*tree.InclusionProof(size - 1, size), *fresh.InclusionProof(size - 1, size));
    }
  }
}

TEST(MerkleTreeTest, RefusesSizesBeyondTheLog) {
  MerkleTree tree;
  for (const auto& leaf : Leaves(5)) tree.Append(leaf);
  EXPECT_TRUE(absl::IsOutOfRange(tree.Root(6).status()));
  EXPECT_TRUE(absl::IsOutOfRange(tree.InclusionProof(5, 5).status()));
  EXPECT_TRUE(absl::IsOutOfRange(tree.InclusionProof(0, 6).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(tree.ConsistencyProof(0, 5).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(tree.ConsistencyProof(4, 6).status()));
}

}  // namespace
}  // namespace offboard::controller
