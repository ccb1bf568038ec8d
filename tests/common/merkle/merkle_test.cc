// Tests for common/merkle: the RFC 6962 vectors of transparency-dev/merkle,
// an independent recursive transcription of RFC 9162's MTH, PATH and SUBPROOF
// for every tree of up to 64 leaves, and tampering with every proof.
#include "common/merkle/merkle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"

namespace offboard::common {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Proof = std::vector<MerkleHash>;

constexpr char kVectorsPath[] = OFFBOARD_TESTDATA_DIR "/external/rfc6962-merkle-vectors.json";
constexpr char kSharedVectorsPath[] =
    OFFBOARD_TESTDATA_DIR "/../../../shared/testdata/rfc6962-merkle-vectors.json";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

MerkleHash HashFromHex(const std::string& hex) {
  MerkleHash hash{};
  absl::StatusOr<std::vector<uint8_t>> bytes = HexDecode(hex);
  if (bytes.ok() && bytes->size() == hash.size()) {
    std::copy(bytes->begin(), bytes->end(), hash.begin());
  } else {
    ADD_FAILURE() << "not a SHA-256 hash in hex: " << hex;
  }
  return hash;
}

std::vector<MerkleHash> HashesFromJson(const nlohmann::json& array) {
  std::vector<MerkleHash> hashes;
  for (const auto& hex : array) hashes.push_back(HashFromHex(hex));
  return hashes;
}

// Distinct leaves, so that no two subtrees of a test tree share a hash.
std::vector<MerkleHash> MakeLeaves(uint64_t n) {
  std::vector<MerkleHash> leaves;
  for (uint64_t i = 0; i < n; ++i) leaves.push_back(LeafHash("leaf " + std::to_string(i)));
  return leaves;
}

// --- RFC 9162 section 2.1, transcribed recursively as a reference. ---------

struct Range {
  uint64_t begin;
  uint64_t end;
};

uint64_t RefSplit(uint64_t n) {
  uint64_t k = 1;
  while (2 * k < n) k *= 2;
  return k;
}

MerkleHash RefRoot(const std::vector<MerkleHash>& d, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return d[begin];
  const uint64_t mid = begin + RefSplit(end - begin);
  return NodeHash(RefRoot(d, begin, mid), RefRoot(d, mid, end));
}

// PATH(m, D[begin:end]) as the ranges of the subtrees whose roots it lists.
std::vector<Range> RefPath(uint64_t m, uint64_t begin, uint64_t end) {
  if (end - begin <= 1) return {};
  const uint64_t mid = begin + RefSplit(end - begin);
  std::vector<Range> path = m < mid ? RefPath(m, begin, mid) : RefPath(m, mid, end);
  path.push_back(m < mid ? Range{mid, end} : Range{begin, mid});
  return path;
}

// SUBPROOF(m, D[begin:end], b), likewise.
std::vector<Range> RefSubproof(uint64_t m, uint64_t begin, uint64_t end, bool b) {
  if (m == end) return b ? std::vector<Range>{} : std::vector{Range{begin, end}};
  const uint64_t mid = begin + RefSplit(end - begin);
  std::vector<Range> path =
      m <= mid ? RefSubproof(m, begin, mid, b) : RefSubproof(m, mid, end, false);
  path.push_back(m <= mid ? Range{mid, end} : Range{begin, mid});
  return path;
}

std::vector<MerkleHash> RootsOf(const std::vector<MerkleHash>& d,
                                const std::vector<Range>& ranges) {
  std::vector<MerkleHash> roots;
  for (const Range& r : ranges) roots.push_back(RefRoot(d, r.begin, r.end));
  return roots;
}

// What a verifier does with each proof hash, which is all it knows of the
// tree: for inclusion, whether the sibling is on the left.
std::vector<bool> InclusionShape(uint64_t index, uint64_t size) {
  std::vector<bool> shape;
  for (const Range& r : RefPath(index, 0, size)) {
    shape.push_back(r.end <= index);
  }
  return shape;
}

// For consistency (0 < m < n): whether the old root starts the path, then for
// each later node whether it is left of the old tree's end (it then feeds
// both roots) or right of it (only the new root).
std::vector<bool> ConsistencyShape(uint64_t m, uint64_t n) {
  const std::vector<Range> path = RefSubproof(m, 0, n, true);
  const bool starts_with_old_root = (m & (m - 1)) == 0;
  std::vector<bool> shape = {starts_with_old_root};
  for (size_t i = starts_with_old_root ? 0 : 1; i < path.size(); ++i) {
    shape.push_back(path[i].begin < m);
  }
  return shape;
}

// --- Tampering. -------------------------------------------------------------

MerkleHash FlipBit(MerkleHash hash, size_t bit) {
  hash[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return hash;
}

// Flips one bit (each bit of each hash when `all_bits`, else one per hash),
// removes each hash, and adds one at the start and at the end: every such
// proof must fail, and one of the wrong length must say so.
void ExpectTamperedRejected(
    const std::vector<MerkleHash>& proof, bool all_bits,
    const std::function<absl::Status(std::span<const MerkleHash>)>& verify) {
  auto expect_rejected = [&](const std::vector<MerkleHash>& bad) {
    const absl::Status status = verify(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    if (bad.size() != proof.size() && !proof.empty()) {
      EXPECT_THAT(status.message(),
                  HasSubstr(absl::StrCat("has ", bad.size(), " hashes, expected ", proof.size())));
    }
  };
  for (size_t i = 0; i < proof.size(); ++i) {
    for (size_t bit = 0; bit < 8 * kSha256Size; ++bit) {
      if (!all_bits && bit != (i * 37 + 11) % (8 * kSha256Size)) continue;
      std::vector<MerkleHash> bad = proof;
      bad[i] = FlipBit(bad[i], bit);
      expect_rejected(bad);
    }
    std::vector<MerkleHash> bad = proof;
    bad.erase(bad.begin() + static_cast<std::ptrdiff_t>(i));
    expect_rejected(bad);
  }
  std::vector<MerkleHash> bad = proof;
  bad.insert(bad.begin(), LeafHash("extra"));
  expect_rejected(bad);
  bad = proof;
  bad.push_back(LeafHash("extra"));
  expect_rejected(bad);
}

// Checks a valid inclusion proof, then that every altered claim fails.
void CheckInclusion(const std::vector<MerkleHash>& proof, const MerkleHash& leaf, uint64_t index,
                    uint64_t size, const MerkleHash& root, bool all_bits) {
  SCOPED_TRACE(testing::Message() << "leaf " << index << " of tree size " << size);
  ASSERT_TRUE(VerifyInclusion(leaf, index, size, proof, root).ok());
  ExpectTamperedRejected(proof, all_bits,
                         [&](auto bad) { return VerifyInclusion(leaf, index, size, bad, root); });
  for (size_t bit = 0; bit < 8 * kSha256Size; bit += all_bits ? 1 : 97) {
    EXPECT_FALSE(VerifyInclusion(leaf, index, size, proof, FlipBit(root, bit)).ok());
    EXPECT_FALSE(VerifyInclusion(FlipBit(leaf, bit), index, size, proof, root).ok());
  }
  for (uint64_t other = 0; other <= size + 1; ++other) {
    if (other == index) continue;
    EXPECT_FALSE(VerifyInclusion(leaf, other, size, proof, root).ok()) << "index " << other;
  }
  // A different tree size passes only when the verifier would combine the
  // same hashes on the same sides: the root does not commit to its size.
  const std::vector<bool> shape = InclusionShape(index, size);
  for (uint64_t other = 0; other <= 2 * size + 2; ++other) {
    if (other == size) continue;
    const bool same_shape = other > index && InclusionShape(index, other) == shape;
    EXPECT_EQ(VerifyInclusion(leaf, index, other, proof, root).ok(), same_shape)
        << "tree size " << other;
  }
}

// Checks a valid consistency proof, then that every altered claim fails.
void CheckConsistency(const std::vector<MerkleHash>& proof, uint64_t m, uint64_t n,
                      const MerkleHash& root1, const MerkleHash& root2, bool all_bits) {
  SCOPED_TRACE(testing::Message() << "tree size " << m << " to " << n);
  ASSERT_TRUE(VerifyConsistency(m, n, proof, root1, root2).ok());
  ExpectTamperedRejected(proof, all_bits,
                         [&](auto bad) { return VerifyConsistency(m, n, bad, root1, root2); });
  for (size_t bit = 0; bit < 8 * kSha256Size; bit += all_bits ? 1 : 97) {
    EXPECT_FALSE(VerifyConsistency(m, n, proof, FlipBit(root1, bit), root2).ok());
    EXPECT_FALSE(VerifyConsistency(m, n, proof, root1, FlipBit(root2, bit)).ok());
  }
  if (m != n) {
    EXPECT_FALSE(VerifyConsistency(m, n, proof, root2, root1).ok());
  }
  // Other sizes pass only when the verifier would do the same with each hash.
  const std::vector<bool> shape = m < n ? ConsistencyShape(m, n) : std::vector<bool>{};
  for (uint64_t other = 0; other <= n + 1; ++other) {
    if (other == m) continue;
    const bool same = other > 0 && other < n && ConsistencyShape(other, n) == shape;
    EXPECT_EQ(VerifyConsistency(other, n, proof, root1, root2).ok(), same)
        << "old tree size " << other;
  }
  for (uint64_t other = 0; other <= 2 * n + 2; ++other) {
    if (other == n) continue;
    const bool same = m < n && other > m && ConsistencyShape(m, other) == shape;
    EXPECT_EQ(VerifyConsistency(m, other, proof, root1, root2).ok(), same)
        << "new tree size " << other;
  }
}

// --- The published vectors. -------------------------------------------------

class MerkleVectorsTest : public testing::Test {
 protected:
  void SetUp() override {
    const std::string text = ReadFile(kVectorsPath);
    ASSERT_FALSE(text.empty()) << "cannot read " << kVectorsPath;
    vectors_ = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(vectors_.is_discarded()) << kVectorsPath << " is not JSON";
    for (const auto& hex : vectors_.at("leaf_inputs_hex")) {
      absl::StatusOr<std::vector<uint8_t>> input = HexDecode(hex.get<std::string>());
      ASSERT_TRUE(input.ok()) << input.status();
      leaves_.push_back(LeafHash(*input));
    }
    ASSERT_EQ(leaves_.size(), 8u);
  }

  std::span<const MerkleHash> FirstLeaves(uint64_t n) const {
    return std::span<const MerkleHash>(leaves_).first(n);
  }

  nlohmann::json vectors_;
  std::vector<MerkleHash> leaves_;
};

TEST_F(MerkleVectorsTest, Roots) {
  const MerkleHash empty = HashFromHex(vectors_.at("empty_tree_root"));
  EXPECT_EQ(EmptyTreeRoot(), empty);
  EXPECT_EQ(RootFromLeafHashes({}), empty);
  ASSERT_EQ(vectors_.at("roots_by_tree_size").size(), 8u);
  for (const auto& [size, root] : vectors_.at("roots_by_tree_size").items()) {
    EXPECT_EQ(DigestHex(RootFromLeafHashes(FirstLeaves(std::stoull(size)))), root)
        << "tree size " << size;
  }
}

TEST_F(MerkleVectorsTest, InclusionProofs) {
  ASSERT_FALSE(vectors_.at("inclusion_proofs").empty());
  for (const auto& v : vectors_.at("inclusion_proofs")) {
    const uint64_t index = v.at("leaf_index");
    const uint64_t size = v.at("tree_size");
    const std::vector<MerkleHash> proof = HashesFromJson(v.at("proof"));
    const MerkleHash root = HashFromHex(v.at("root"));
    EXPECT_EQ(InclusionProof(FirstLeaves(size), index).value_or(Proof()), proof)
        << "leaf " << index << " of tree size " << size;
    CheckInclusion(proof, leaves_[index], index, size, root, /*all_bits=*/true);
  }
}

TEST_F(MerkleVectorsTest, ConsistencyProofs) {
  ASSERT_FALSE(vectors_.at("consistency_proofs").empty());
  for (const auto& v : vectors_.at("consistency_proofs")) {
    const uint64_t m = v.at("size1");
    const uint64_t n = v.at("size2");
    const std::vector<MerkleHash> proof = HashesFromJson(v.at("proof"));
    const MerkleHash root1 = HashFromHex(v.at("root1"));
    const MerkleHash root2 = HashFromHex(v.at("root2"));
    EXPECT_EQ(ConsistencyProof(FirstLeaves(n), m).value_or(Proof()), proof)
        << "tree size " << m << " to " << n;
    CheckConsistency(proof, m, n, root1, root2, /*all_bits=*/true);
  }
}

// The vectors are copied into the tree so that the build needs nothing
// outside it; the copy must not drift from the shared original.
TEST(MerkleVectorsCopyTest, MatchesSharedOriginal) {
  if (!std::filesystem::exists(kSharedVectorsPath)) {
    GTEST_SKIP() << kSharedVectorsPath << " is not present";
  }
  EXPECT_EQ(ReadFile(kVectorsPath), ReadFile(kSharedVectorsPath));
}

// --- Every tree of up to 64 leaves. ----------------------------------------

constexpr uint64_t kMaxPropertySize = 64;

TEST(MerklePropertyTest, RootsAndInclusionProofsForEveryLeaf) {
  const std::vector<MerkleHash> all = MakeLeaves(kMaxPropertySize);
  for (uint64_t n = 1; n <= kMaxPropertySize; ++n) {
    const std::vector<MerkleHash> leaves(all.begin(), all.begin() + n);
    const MerkleHash root = RootFromLeafHashes(leaves);
    ASSERT_EQ(root, RefRoot(leaves, 0, n)) << "tree size " << n;
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<MerkleHash> proof = InclusionProof(leaves, i).value_or(Proof());
      ASSERT_EQ(proof, RootsOf(leaves, RefPath(i, 0, n))) << "leaf " << i << " of tree size " << n;
      CheckInclusion(proof, leaves[i], i, n, root, /*all_bits=*/false);
    }
  }
}

TEST(MerklePropertyTest, ConsistencyProofsForEveryOldSize) {
  const std::vector<MerkleHash> all = MakeLeaves(kMaxPropertySize);
  for (uint64_t n = 1; n <= kMaxPropertySize; ++n) {
    const std::vector<MerkleHash> leaves(all.begin(), all.begin() + n);
    const MerkleHash root2 = RootFromLeafHashes(leaves);
    for (uint64_t m = 1; m <= n; ++m) {
      const std::vector<MerkleHash> proof = ConsistencyProof(leaves, m).value_or(Proof());
      ASSERT_EQ(proof, RootsOf(leaves, RefSubproof(m, 0, n, true)))
          << "tree size " << m << " to " << n;
      const MerkleHash root1 = RootFromLeafHashes(std::span(leaves).first(m));
      CheckConsistency(proof, m, n, root1, root2, /*all_bits=*/false);
    }
  }
}

// A tree deep enough that recursion or quadratic work would show.
TEST(MerklePropertyTest, LargeTree) {
  const uint64_t n = (uint64_t{1} << 17) + 5;
  const uint64_t m = n / 2 + 1;
  const std::vector<MerkleHash> leaves = MakeLeaves(n);
  const MerkleHash root = RootFromLeafHashes(leaves);
  for (uint64_t i : {uint64_t{0}, n / 3, n - 6, n - 1}) {
    EXPECT_TRUE(VerifyInclusion(leaves[i], i, n, *InclusionProof(leaves, i), root).ok())
        << "leaf " << i;
  }
  const MerkleHash old_root = RootFromLeafHashes(std::span(leaves).first(m));
  EXPECT_TRUE(VerifyConsistency(m, n, *ConsistencyProof(leaves, m), old_root, root).ok());
}

// --- Hashes, codes and messages. --------------------------------------------

TEST(MerkleHashTest, DomainSeparatedSha256) {
  const std::vector<uint8_t> abc = {'a', 'b', 'c'};
  const std::vector<uint8_t> leaf_input = {0x00, 'a', 'b', 'c'};
  EXPECT_EQ(LeafHash(abc), Sha256Of(leaf_input));
  EXPECT_EQ(LeafHash(std::string_view("abc")), Sha256Of(leaf_input));
  const MerkleHash left = LeafHash("l");
  const MerkleHash right = LeafHash("r");
  std::vector<uint8_t> node_input = {0x01};
  node_input.insert(node_input.end(), left.begin(), left.end());
  node_input.insert(node_input.end(), right.begin(), right.end());
  EXPECT_EQ(NodeHash(left, right), Sha256Of(node_input));
}

TEST(MerkleErrorTest, GenerationRejectsImpossibleArguments) {
  const std::vector<MerkleHash> leaves = MakeLeaves(8);
  const absl::Status status = InclusionProof(leaves, 8).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(status.message(), "leaf index 8 is outside a tree of 8 leaves");
  EXPECT_EQ(InclusionProof({}, 0).status().code(), absl::StatusCode::kOutOfRange);
  for (uint64_t bad_old_size : {0, 9}) {
    EXPECT_EQ(ConsistencyProof(leaves, bad_old_size).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(ConsistencyProof({}, 0).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<MerkleHash>> same_size = ConsistencyProof(leaves, 8);
  ASSERT_TRUE(same_size.ok()) << same_size.status();
  EXPECT_THAT(*same_size, IsEmpty());
}

TEST(MerkleErrorTest, VerificationMessagesSayWhatIsWrong) {
  const std::vector<MerkleHash> leaves = MakeLeaves(8);
  const MerkleHash root = RootFromLeafHashes(leaves);
  const MerkleHash root6 = RootFromLeafHashes(std::span(leaves).first(6));
  std::vector<MerkleHash> proof = *InclusionProof(leaves, 5);
  EXPECT_THAT(VerifyInclusion(leaves[4], 5, 8, proof, root).message(),
              HasSubstr("does not match root " + DigestHex(root)));
  proof.push_back(proof.back());
  EXPECT_EQ(VerifyInclusion(leaves[5], 5, 8, proof, root).message(),
            "inclusion proof has 4 hashes, expected 3 for leaf 5 of tree size 8");
  EXPECT_EQ(VerifyConsistency(6, 8, {}, root6, root).message(),
            "consistency proof has 0 hashes, expected 3 from tree size 6 to "
            "tree size 8");
  EXPECT_THAT(VerifyConsistency(6, 8, *ConsistencyProof(leaves, 6), root, root).message(),
              HasSubstr("gives old root " + DigestHex(root6)));
  EXPECT_THAT(VerifyConsistency(0, 8, {}, root6, root).message(), HasSubstr("old tree size is 0"));
  EXPECT_THAT(VerifyConsistency(9, 8, {}, root6, root).message(),
              HasSubstr("old tree size 9 exceeds new tree size 8"));
  EXPECT_TRUE(VerifyConsistency(8, 8, {}, root, root).ok());
  EXPECT_THAT(VerifyConsistency(8, 8, {}, root6, root).message(),
              HasSubstr("differ for the same tree size 8"));
  EXPECT_THAT(VerifyConsistency(8, 8, {&root, 1}, root, root).message(),
              HasSubstr("must be empty, has 1 hashes"));
}

// The root alone does not fix the tree size (see merkle.h): leaf 0's proof in
// a tree of 8 is also a proof for leaf 0 of 5, 6 or 7 leaves under that root.
TEST(MerkleErrorTest, TreeSizeIsNotBoundByTheRoot) {
  const std::vector<MerkleHash> leaves = MakeLeaves(8);
  const std::vector<MerkleHash> proof = *InclusionProof(leaves, 0);
  const MerkleHash root = RootFromLeafHashes(leaves);
  EXPECT_TRUE(VerifyInclusion(leaves[0], 0, 7, proof, root).ok());
  EXPECT_FALSE(VerifyInclusion(leaves[0], 0, 4, proof, root).ok());
}

}  // namespace
}  // namespace offboard::common
