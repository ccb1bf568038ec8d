#include "common/merkle/merkle.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"

namespace offboard::common {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// The split point k of RFC 9162 section 2.1.1: the largest power of two
// smaller than n, for n >= 2.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// Number of hashes in an inclusion proof for leaf `index` of a tree of `size`
// leaves: one per level below the point where the leaf's path leaves the
// rightmost path of the tree (`inner`), plus one per left sibling on the
// tree's ragged right edge above it (`border`). Used only for messages; the
// RFC algorithm enforces the length by itself.
uint64_t InclusionProofLength(uint64_t index, uint64_t size) {
  const int inner = std::bit_width(index ^ (size - 1));
  return static_cast<uint64_t>(inner) + static_cast<uint64_t>(std::popcount(index >> inner));
}

// Same for a consistency proof from size1 to size2, 0 < size1 < size2: the
// inclusion proof of the old tree's last leaf, less the levels inside the
// largest complete subtree that ends at size1, plus that subtree's own hash
// unless it is the whole old tree (then the verifier uses the old root).
uint64_t ConsistencyProofLength(uint64_t size1, uint64_t size2) {
  const int inner = std::bit_width((size1 - 1) ^ (size2 - 1));
  const int shift = std::countr_zero(size1);
  const uint64_t border = static_cast<uint64_t>(std::popcount((size1 - 1) >> inner));
  const uint64_t seed = std::has_single_bit(size1) ? 0 : 1;
  return seed + static_cast<uint64_t>(inner - shift) + border;
}

absl::Status InclusionLengthError(uint64_t actual, uint64_t leaf_index, uint64_t tree_size) {
  return absl::InvalidArgumentError(
      absl::StrCat("inclusion proof has ", actual, " hashes, expected ",
                   InclusionProofLength(leaf_index, tree_size), " for leaf ", leaf_index,
                   " of tree size ", tree_size));
}

absl::Status ConsistencyLengthError(uint64_t actual, uint64_t size1, uint64_t size2) {
  return absl::InvalidArgumentError(absl::StrCat(
      "consistency proof has ", actual, " hashes, expected ", ConsistencyProofLength(size1, size2),
      " from tree size ", size1, " to tree size ", size2));
}

}  // namespace

MerkleHash LeafHash(std::span<const uint8_t> leaf_input) {
  Sha256 hasher;
  hasher.Update(std::span<const uint8_t>(&kLeafPrefix, 1));
  hasher.Update(leaf_input);
  return hasher.Finish();
}

MerkleHash LeafHash(std::string_view leaf_input) {
  return LeafHash(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(leaf_input.data()),
                                           leaf_input.size()));
}

MerkleHash NodeHash(const MerkleHash& left, const MerkleHash& right) {
  std::array<uint8_t, 1 + 2 * kSha256Size> input;
  input[0] = kNodePrefix;
  std::memcpy(input.data() + 1, left.data(), kSha256Size);
  std::memcpy(input.data() + 1 + kSha256Size, right.data(), kSha256Size);
  return Sha256Of(input);
}

MerkleHash EmptyTreeRoot() { return Sha256Of(std::span<const uint8_t>()); }

MerkleHash RootFromLeafHashes(std::span<const MerkleHash> leaf_hashes) {
  if (leaf_hashes.empty()) return EmptyTreeRoot();
  // After `count` leaves, `complete` holds the roots of the complete subtrees
  // that MTH splits the first `count` leaves into, one per set bit of count,
  // largest (leftmost) first. Adding a leaf merges one subtree per trailing
  // one bit of the old count, like a binary increment.
  std::array<MerkleHash, 64> complete;
  size_t depth = 0;
  for (uint64_t count = 0; count < leaf_hashes.size(); ++count) {
    MerkleHash node = leaf_hashes[count];
    for (uint64_t carry = count; carry & 1; carry >>= 1) {
      node = NodeHash(complete[--depth], node);
    }
    complete[depth++] = node;
  }
  // MTH hangs the smaller subtrees off the right of the larger ones.
  MerkleHash root = complete[--depth];
  while (depth > 0) root = NodeHash(complete[--depth], root);
  return root;
}

absl::StatusOr<std::vector<MerkleHash>> InclusionProof(std::span<const MerkleHash> leaf_hashes,
                                                       uint64_t leaf_index) {
  if (leaf_index >= leaf_hashes.size()) {
    return absl::OutOfRangeError(absl::StrCat("leaf index ", leaf_index, " is outside a tree of ",
                                              leaf_hashes.size(), " leaves"));
  }
  // Walk down from the root, keeping the subtree [begin, end) that holds the
  // leaf and collecting the root of the other half at each level. Each level
  // hashes at most half of what the level above did: O(n) in all.
  std::vector<MerkleHash> proof;
  uint64_t begin = 0;
  uint64_t end = leaf_hashes.size();
  while (end - begin > 1) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (leaf_index < mid) {
      proof.push_back(RootFromLeafHashes(leaf_hashes.subspan(mid, end - mid)));
      end = mid;
    } else {
      proof.push_back(RootFromLeafHashes(leaf_hashes.subspan(begin, mid - begin)));
      begin = mid;
    }
  }
  // PATH lists the hashes bottom-up.
  std::reverse(proof.begin(), proof.end());
  return proof;
}

absl::StatusOr<std::vector<MerkleHash>> ConsistencyProof(std::span<const MerkleHash> leaf_hashes,
                                                         uint64_t old_size) {
  if (old_size == 0 || old_size > leaf_hashes.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("old tree size ", old_size, " is not in [1, ", leaf_hashes.size(),
                     "]: a consistency proof needs 0 < old size <= new size"));
  }
  // SUBPROOF(m, D[begin:end], complete) of RFC 9162 section 2.1.4.1, unrolled:
  // the old tree ends at `old_size`, inside (begin, end]; `complete` stays true
  // while [begin, end) starts at leaf 0, so that a subtree equal to the whole
  // old tree is left out (the verifier already has its root).
  std::vector<MerkleHash> proof;
  uint64_t begin = 0;
  uint64_t end = leaf_hashes.size();
  bool complete = true;
  while (old_size != end) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (old_size <= mid) {
      proof.push_back(RootFromLeafHashes(leaf_hashes.subspan(mid, end - mid)));
      end = mid;
    } else {
      proof.push_back(RootFromLeafHashes(leaf_hashes.subspan(begin, mid - begin)));
      begin = mid;
      complete = false;
    }
  }
  if (!complete) {
    proof.push_back(RootFromLeafHashes(leaf_hashes.subspan(begin, end - begin)));
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

absl::StatusOr<MerkleHash> RootFromInclusionProof(const MerkleHash& leaf_hash, uint64_t leaf_index,
                                                  uint64_t tree_size,
                                                  std::span<const MerkleHash> proof) {
  // RFC 9162 section 2.1.3.2, step by step.
  if (leaf_index >= tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", leaf_index, " is outside a tree of ", tree_size, " leaves"));
  }
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  MerkleHash r = leaf_hash;
  for (const MerkleHash& p : proof) {
    if (sn == 0) {
      return InclusionLengthError(proof.size(), leaf_index, tree_size);
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return InclusionLengthError(proof.size(), leaf_index, tree_size);
  }
  return r;
}

absl::Status VerifyInclusion(const MerkleHash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                             std::span<const MerkleHash> proof, const MerkleHash& root) {
  absl::StatusOr<MerkleHash> computed =
      RootFromInclusionProof(leaf_hash, leaf_index, tree_size, proof);
  if (!computed.ok()) return computed.status();
  if (*computed != root) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof for leaf ", leaf_index, " of tree size ", tree_size, " gives root ",
        DigestHex(*computed), ", which does not match root ", DigestHex(root)));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, std::span<const MerkleHash> proof,
                               const MerkleHash& root1, const MerkleHash& root2) {
  if (size1 == 0) {
    return absl::InvalidArgumentError(
        "old tree size is 0: RFC 9162 defines no consistency proof from the "
        "empty tree");
  }
  if (size1 > size2) {
    return absl::InvalidArgumentError(
        absl::StrCat("old tree size ", size1, " exceeds new tree size ", size2));
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("consistency proof between equal tree sizes ",
                                                     size1, " must be empty, has ", proof.size(),
                                                     " hashes"));
    }
    if (root1 != root2) {
      return absl::InvalidArgumentError(absl::StrCat("roots ", DigestHex(root1), " and ",
                                                     DigestHex(root2),
                                                     " differ for the same tree size ", size1));
    }
    return absl::OkStatus();
  }

  // RFC 9162 section 2.1.4.2, step by step.
  if (proof.empty()) return ConsistencyLengthError(0, size1, size2);
  // Step 2: when the old tree is complete, its root is the path's first node.
  const bool prepend_root1 = std::has_single_bit(size1);
  const MerkleHash& seed = prepend_root1 ? root1 : proof[0];
  const std::span<const MerkleHash> rest = prepend_root1 ? proof : proof.subspan(1);
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  MerkleHash fr = seed;
  MerkleHash sr = seed;
  for (const MerkleHash& c : rest) {
    if (sn == 0) return ConsistencyLengthError(proof.size(), size1, size2);
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return ConsistencyLengthError(proof.size(), size1, size2);
  if (fr != root1) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency proof from tree size ", size1, " to ", size2, " gives old root ",
                     DigestHex(fr), ", which does not match root ", DigestHex(root1)));
  }
  if (sr != root2) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency proof from tree size ", size1, " to ", size2, " gives new root ",
                     DigestHex(sr), ", which does not match root ", DigestHex(root2)));
  }
  return absl::OkStatus();
}

absl::StatusOr<MerkleHash> MerkleHashFromHex(absl::string_view hex) {
  absl::StatusOr<std::vector<uint8_t>> bytes = HexDecode(hex);
  MerkleHash hash{};
  if (!bytes.ok() || bytes->size() != hash.size()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", hex, "\" is not a SHA-256 in hex"));
  }
  std::copy(bytes->begin(), bytes->end(), hash.begin());
  return hash;
}

absl::StatusOr<std::vector<MerkleHash>> MerkleHashesFromHex(const std::vector<std::string>& hex) {
  std::vector<MerkleHash> out;
  out.reserve(hex.size());
  for (const std::string& h : hex) {
    absl::StatusOr<MerkleHash> hash = MerkleHashFromHex(h);
    if (!hash.ok()) return hash.status();
    out.push_back(*hash);
  }
  return out;
}

}  // namespace offboard::common
