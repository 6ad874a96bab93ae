// Binary SHA-256 Merkle trees with domain separation and inclusion proofs.
//
//   leaf  = SHA-256(0x00 || segment)           one 1 KiB segment of a block
//   node  = SHA-256(0x01 || left || right)
// A level with an odd count promotes its last node unchanged to the next level (no duplication,
// which would allow CVE-2012-2459-style collisions). The result equals the tree built by pairing
// complete power-of-two subtrees from the left, so a root can be built streaming in O(log n).
//
// Three levels share these rules (docs/formats.md):
//   block root   = root of the tree over a block's segments   (a slot block's identity, multihash 0x300001)
//   slot root    = root of the tree whose leaves are the block roots of one slot, in stripe order
//   dataset root = root of the tree whose leaves are a file's n slot roots, in slot order
// so a segment proof inside a block followed by the block's proof inside the slot proves one
// segment against the slot root that the producer registered (the tracker's audits), and the
// slot's proof inside the dataset extends it to the one root a storage request on chain
// commits to (contracts/StorageMarket.sol, DESIGN.md "Proofs of storage").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "core/protocol.h"
#include "core/sha256.h"

namespace ob::merkle {

/// A node of a tree: 32 bytes of SHA-256.
using Hash = Sha256Digest;

inline constexpr std::uint8_t kLeafPrefix = 0x00;
inline constexpr std::uint8_t kNodePrefix = 0x01;

/// SHA-256(0x00 || segment).
Hash leaf_hash(ByteView segment);
/// SHA-256(0x01 || left || right).
Hash node_hash(const Hash& left, const Hash& right);

/// Root of the segment tree of `block`: leaves are its consecutive `segment_size`-byte segments.
/// Precondition: block.size() is a non-zero multiple of segment_size (the engine validates block sizes).
Hash block_root(ByteView block, std::size_t segment_size = protocol::kSegmentSize);

/// Builds a root from leaves added one at a time, in O(log n) memory.
class RootBuilder {
 public:
  /// Adds the next leaf (already hashed: a leaf_hash or a block root).
  void add(const Hash& leaf);
  /// Number of leaves added so far.
  std::uint64_t count() const noexcept { return count_; }
  /// The root of the leaves added so far. Errors (invalid_argument): no leaf was added.
  Result<Hash> root() const;

 private:
  struct Subtree {
    Hash hash;
    unsigned height;
  };
  std::vector<Subtree> stack_;  // complete subtrees, heights strictly decreasing
  std::uint64_t count_ = 0;
};

/// Root over `leaves` (already hashed). Errors (invalid_argument): no leaves.
Result<Hash> root(std::span<const Hash> leaves);

/// The dataset root of a file: the root over its n slot roots in slot order (the manifest's
/// slot_roots), with the rules above. A storage request on chain commits to it, and every
/// on-chain proof of storage ends at it. Errors (invalid_argument): no slot roots.
Result<Hash> dataset_root(std::span<const Hash> slot_roots);

/// An inclusion proof: the sibling hashes from the leaf's level upward. Levels at which the
/// path node is a promoted odd last node have no sibling and contribute nothing.
struct Proof {
  std::uint64_t index = 0;       ///< the leaf's position, 0-based
  std::uint64_t leaf_count = 0;  ///< how many leaves the tree has
  std::vector<Hash> siblings;    ///< bottom-up
};

/// Proof that leaves[index] is in the tree over `leaves`.
/// Errors (invalid_argument): no leaves, or index >= leaves.size().
Result<Proof> prove(std::span<const Hash> leaves, std::uint64_t index);

/// The root that `proof` leads to from `leaf`: each sibling hashed in on its side, bottom-up.
/// nullopt when the proof does not fit its own shape: leaf_count 0, index >= leaf_count, too few
/// or too many siblings for (index, leaf_count). verify() compares this root with the expected one.
std::optional<Hash> root_from_proof(const Hash& leaf, const Proof& proof);

/// True when `proof` shows that `leaf` sits at proof.index among proof.leaf_count leaves under
/// `root`. False for a wrong leaf, wrong index, index >= leaf_count, tampered, too few or too many
/// siblings. The root does not commit to the leaf count: a count with the same path shape (e.g. 5
/// and 6 for index 0) also verifies, so verifiers take leaf_count from the manifest, never the prover.
bool verify(const Hash& root, const Hash& leaf, const Proof& proof);

}  // namespace ob::merkle
