// Collects up to millions of 32-byte digests whose number is known only at
// the end, for fingerprint_set.cc, and hands them over as one sorted vector
// without the memory a growing vector costs: while it grows, a vector briefly
// holds its old and new buffer, and it ends with spare capacity that
// FingerprintIndex copies the digests again to shed.
//
//   DigestBlocks blocks;
//   for (...) blocks.Add(digest);
//   std::vector<DigestBlocks::Digest> digests = blocks.TakeSortedUnique();
//
// Internal to offboard_common_inventory. Not thread-safe.
#ifndef OFFBOARD_COMMON_INVENTORY_DIGEST_BLOCKS_H_
#define OFFBOARD_COMMON_INVENTORY_DIGEST_BLOCKS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace offboard::common::inventory_internal {

class DigestBlocks {
 public:
  using Digest = std::array<uint8_t, 32>;

  // Throws std::bad_alloc, as new would, when out of memory.
  void Add(const Digest& digest);

  // All digests, sorted and without duplicates, in a vector without spare
  // capacity unless there were duplicates. While it is filled, at most one
  // block (1 MiB) more than the digests is held. Leaves this empty.
  std::vector<Digest> TakeSortedUnique();

 private:
  static constexpr size_t kBlockDigests = (size_t{1} << 20) / sizeof(Digest);
  using Block = std::array<Digest, kBlockDigests>;
  struct Unmap {
    void operator()(Block* block) const;
  };
  using BlockPtr = std::unique_ptr<Block, Unmap>;

  std::vector<BlockPtr> blocks_;
  size_t size_ = 0;
};

}  // namespace offboard::common::inventory_internal

#endif  // OFFBOARD_COMMON_INVENTORY_DIGEST_BLOCKS_H_
