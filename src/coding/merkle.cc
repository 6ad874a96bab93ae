#include "coding/merkle.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace ob::merkle {
namespace {

// Streaming root over at most 2^64 leaves with no allocation. Complete subtrees sit on a fixed
// stack; after `count_` leaves their sizes are the set bits of count_ (largest at the bottom),
// so adding a leaf merges once per trailing one bit of the old count, and the stack never holds
// more than 64 entries. Folding the stack right-to-left gives the level-by-level tree with odd
// last nodes promoted (see merkle.h). RootBuilder is the same algorithm with a growable stack.
class Folder {
 public:
  void add(const Hash& leaf) {
    Hash h = leaf;
    for (std::uint64_t c = count_; (c & 1) != 0; c >>= 1) h = node_hash(stack_[--size_], h);
    stack_[size_++] = h;
    ++count_;
  }

  // Precondition: at least one leaf was added.
  Hash root() const {
    Hash acc = stack_[size_ - 1];
    for (std::size_t i = size_ - 1; i-- > 0;) acc = node_hash(stack_[i], acc);
    return acc;
  }

 private:
  std::array<Hash, 64> stack_;
  std::size_t size_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace

Hash leaf_hash(ByteView segment) { return Sha256::hash_prefixed(kLeafPrefix, segment); }

Hash node_hash(const Hash& left, const Hash& right) {
  return Sha256::hash_prefixed(kNodePrefix, left, right);
}

Hash block_root(ByteView block, std::size_t segment_size) {
  // The precondition is the engine's to keep, but a violation must not be undefined behaviour:
  // a zero segment size hashes the whole block as one segment, a short tail is a short last
  // segment, and an empty block is one empty segment.
  if (segment_size == 0 || block.size() <= segment_size) return leaf_hash(block);
  Folder folder;
  for (std::size_t off = 0; off < block.size(); off += segment_size) {
    folder.add(leaf_hash(block.subspan(off, std::min(segment_size, block.size() - off))));
  }
  return folder.root();
}

void RootBuilder::add(const Hash& leaf) {
  if (stack_.capacity() == 0) stack_.reserve(64);  // one allocation for any count
  Subtree top{leaf, 0};
  while (!stack_.empty() && stack_.back().height == top.height) {
    top.hash = node_hash(stack_.back().hash, top.hash);
    ++top.height;
    stack_.pop_back();
  }
  stack_.push_back(top);
  ++count_;
}

Result<Hash> RootBuilder::root() const {
  if (stack_.empty()) return fail(Errc::invalid_argument, "Merkle root of zero leaves");
  Hash acc = stack_.back().hash;
  for (auto it = stack_.rbegin() + 1; it != stack_.rend(); ++it) acc = node_hash(it->hash, acc);
  return acc;
}

Result<Hash> root(std::span<const Hash> leaves) {
  if (leaves.empty()) return fail(Errc::invalid_argument, "Merkle root of zero leaves");
  Folder folder;
  for (const Hash& leaf : leaves) folder.add(leaf);
  return folder.root();
}

Result<Proof> prove(std::span<const Hash> leaves, std::uint64_t index) {
  if (leaves.empty()) return fail(Errc::invalid_argument, "Merkle proof over zero leaves");
  if (index >= leaves.size()) {
    return fail(Errc::invalid_argument, "Merkle proof index ", index, " out of range for ",
                leaves.size(), " leaves");
  }
  Proof proof{index, leaves.size(), {}};
  std::vector<Hash> level(leaves.begin(), leaves.end());
  std::uint64_t i = index;
  // Level by level, reducing in place; the sibling is taken before the level is overwritten.
  while (level.size() > 1) {
    const std::size_t size = level.size();
    if ((i & 1) != 0) {
      proof.siblings.push_back(level[i - 1]);
    } else if (i + 1 < size) {
      proof.siblings.push_back(level[i + 1]);
    }
    std::size_t next = 0;
    for (std::size_t j = 0; j + 1 < size; j += 2) level[next++] = node_hash(level[j], level[j + 1]);
    if ((size & 1) != 0) level[next++] = level[size - 1];
    level.resize(next);
    i >>= 1;
  }
  return proof;
}

Result<Hash> dataset_root(std::span<const Hash> slot_roots) {
  if (slot_roots.empty()) return fail(Errc::invalid_argument, "dataset root of zero slot roots");
  return root(slot_roots);
}

std::optional<Hash> root_from_proof(const Hash& leaf, const Proof& proof) {
  if (proof.leaf_count == 0 || proof.index >= proof.leaf_count) return std::nullopt;
  // The path shape follows from (index, leaf_count) alone, so the proof must use exactly the
  // siblings it carries: a tree of 2^64 leaves has at most 64 levels.
  if (proof.siblings.size() > 64) return std::nullopt;
  Hash h = leaf;
  std::uint64_t i = proof.index;
  std::uint64_t size = proof.leaf_count;
  std::size_t used = 0;
  while (size > 1) {
    const bool has_sibling = (i & 1) != 0 || i + 1 < size;
    if (has_sibling) {
      if (used == proof.siblings.size()) return std::nullopt;
      const Hash& sibling = proof.siblings[used++];
      h = (i & 1) != 0 ? node_hash(sibling, h) : node_hash(h, sibling);
    }
    i >>= 1;
    size = size / 2 + (size & 1);  // ceil(size / 2) without overflowing at 2^64 - 1
  }
  if (used != proof.siblings.size()) return std::nullopt;
  return h;
}

bool verify(const Hash& root, const Hash& leaf, const Proof& proof) {
  const std::optional<Hash> reached = root_from_proof(leaf, proof);
  return reached && constant_time_equal(*reached, root);
}

}  // namespace ob::merkle
