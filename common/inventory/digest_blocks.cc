#include "common/inventory/digest_blocks.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace offboard::common::inventory_internal {

// The blocks are mapped directly, not taken from malloc, so that each one
// freed goes back to the system at once. malloc keeps freed memory below the
// top of its heap, and it serves 1 MiB from that heap once freeing larger
// buffers has raised its threshold for mapping a request itself.
void DigestBlocks::Unmap::operator()(Block* block) const { ::munmap(block, sizeof(Block)); }

void DigestBlocks::Add(const Digest& digest) {
  if (size_ % kBlockDigests == 0) {
    void* block =
        ::mmap(nullptr, sizeof(Block), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) throw std::bad_alloc();
    blocks_.push_back(BlockPtr(static_cast<Block*>(block)));
  }
  (*blocks_.back())[size_ % kBlockDigests] = digest;
  ++size_;
}

std::vector<DigestBlocks::Digest> DigestBlocks::TakeSortedUnique() {
  std::vector<Digest> digests;
  digests.reserve(size_);
  for (BlockPtr& block : blocks_) {
    const size_t count = std::min(kBlockDigests, size_ - digests.size());
    digests.insert(digests.end(), block->begin(), block->begin() + count);
    block.reset();
  }
  blocks_.clear();
  size_ = 0;
  // Sorted for binary search; a repeated digest is harmless (a set exported
  // from raw records repeats identifiers) but must not count twice.
  std::sort(digests.begin(), digests.end());
  digests.erase(std::unique(digests.begin(), digests.end()), digests.end());
  return digests;
}

}  // namespace offboard::common::inventory_internal
