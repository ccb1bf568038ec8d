// RFC 6962 Merkle tree hashing, and generation and verification of inclusion
// and consistency proofs, as specified in RFC 9162 section 2.1.
//
// The controller appends every accepted attestation envelope to a log whose
// leaves are LeafHash(envelope); receipts and evidence packages carry a signed
// tree head (tree size and root) with an inclusion proof, and successive tree
// heads are tied together by consistency proofs. offboard-verify checks them
// with the Verify* functions below.
//
//   std::vector<MerkleHash> leaves = ...;        // LeafHash of each entry
//   MerkleHash root = RootFromLeafHashes(leaves);
//   OFFBOARD_ASSIGN_OR_RETURN(std::vector<MerkleHash> proof,
//                             InclusionProof(leaves, 5));
//   OFFBOARD_RETURN_IF_ERROR(
//       VerifyInclusion(leaves[5], 5, leaves.size(), proof, root));
//
// Leaf indexes are 0-based. Generation takes all leaf hashes of the tree and
// runs in O(n) time and O(log n) extra memory, without recursion.
//
// Errors: every verification failure is INVALID_ARGUMENT — the offered proof,
// sizes or roots do not prove the claim, whatever the state of the system —
// with a message that says which check failed. Proof generation returns
// OUT_OF_RANGE for a leaf index outside the tree and INVALID_ARGUMENT for an
// impossible old tree size.
//
// A root does not commit to its tree size by itself: a proof may also verify
// against the same root under a different tree size whose tree has the same
// shape along the proof's path. Take the tree size from the same signed tree
// head as the root.
//
// Thread-safe: plain functions without shared state.
#ifndef OFFBOARD_COMMON_MERKLE_MERKLE_H_
#define OFFBOARD_COMMON_MERKLE_MERKLE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/sha256.h"

namespace offboard::common {

using MerkleHash = Sha256Digest;

// SHA-256(0x00 || leaf_input): the hash of one log entry.
MerkleHash LeafHash(std::span<const uint8_t> leaf_input);
MerkleHash LeafHash(std::string_view leaf_input);

// The hash whose lowercase or uppercase hex is `hex`; INVALID_ARGUMENT
// quoting it for anything but 64 hex digits.
absl::StatusOr<MerkleHash> MerkleHashFromHex(absl::string_view hex);

// The same for each of a proof's hashes.
absl::StatusOr<std::vector<MerkleHash>> MerkleHashesFromHex(const std::vector<std::string>& hex);

// SHA-256(0x01 || left || right): the hash of an interior node.
MerkleHash NodeHash(const MerkleHash& left, const MerkleHash& right);

// SHA-256 of the empty string: the root of a tree with no leaves.
MerkleHash EmptyTreeRoot();

// MTH(D[n]) of RFC 9162 section 2.1.1 over already-hashed leaves; the
// EmptyTreeRoot() for an empty span.
MerkleHash RootFromLeafHashes(std::span<const MerkleHash> leaf_hashes);

// PATH(leaf_index, D[n]) of RFC 9162 section 2.1.3.1 for the tree of all
// `leaf_hashes`, ordered from the leaf's sibling up to the root's child.
// OUT_OF_RANGE when leaf_index >= leaf_hashes.size().
absl::StatusOr<std::vector<MerkleHash>> InclusionProof(std::span<const MerkleHash> leaf_hashes,
                                                       uint64_t leaf_index);

// PROOF(old_size, D[n]) of RFC 9162 section 2.1.4.1 between the first
// `old_size` leaves and all `leaf_hashes`; empty when old_size equals
// leaf_hashes.size(). INVALID_ARGUMENT unless 0 < old_size <= size.
absl::StatusOr<std::vector<MerkleHash>> ConsistencyProof(std::span<const MerkleHash> leaf_hashes,
                                                         uint64_t old_size);

// The root that `proof` and `leaf_hash` imply for leaf `leaf_index` of a tree
// of `tree_size` leaves, by the algorithm of RFC 9162 section 2.1.3.2.
// INVALID_ARGUMENT when leaf_index >= tree_size or the proof has the wrong
// number of hashes for that position.
absl::StatusOr<MerkleHash> RootFromInclusionProof(const MerkleHash& leaf_hash, uint64_t leaf_index,
                                                  uint64_t tree_size,
                                                  std::span<const MerkleHash> proof);

// OK when `proof` shows that `leaf_hash` is leaf `leaf_index` of the tree of
// `tree_size` leaves whose root is `root`; INVALID_ARGUMENT otherwise.
absl::Status VerifyInclusion(const MerkleHash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                             std::span<const MerkleHash> proof, const MerkleHash& root);

// OK when `proof` shows, by the algorithm of RFC 9162 section 2.1.4.2, that
// the tree of `size1` leaves with root `root1` is a prefix of the tree of
// `size2` leaves with root `root2`. When size1 == size2 the proof must be empty
// and the roots equal. INVALID_ARGUMENT otherwise, including size1 == 0 (RFC
// 9162 defines no proof from the empty tree) and size1 > size2.
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, std::span<const MerkleHash> proof,
                               const MerkleHash& root1, const MerkleHash& root2);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_MERKLE_MERKLE_H_
