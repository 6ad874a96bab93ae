#include "coding/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <vector>

namespace ob::merkle {
namespace {

// Known answers computed independently with Python's hashlib:
//   leaf(s) = sha256(b'\x00' + s), node(l, r) = sha256(b'\x01' + l + r), odd last node promoted.

std::string hex(const Hash& h) { return to_hex(h); }

std::vector<Hash> byte_leaves(std::size_t count) {
  std::vector<Hash> leaves;
  for (std::size_t i = 0; i < count; ++i) {
    const auto b = static_cast<std::uint8_t>(i);
    leaves.push_back(leaf_hash(ByteView(&b, 1)));
  }
  return leaves;
}

// Bytes (i * 31 + 7) mod 256.
Bytes pattern(std::size_t size) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return out;
}

// Reference: the tree exactly as its definition says, level by level.
Hash naive_root(std::vector<Hash> level) {
  while (level.size() > 1) {
    std::vector<Hash> next;
    for (std::size_t i = 0; i + 1 < level.size(); i += 2)
      next.push_back(node_hash(level[i], level[i + 1]));
    if (level.size() % 2 == 1) next.push_back(level.back());
    level = std::move(next);
  }
  return level.at(0);
}

// Which side the sibling is on at each level of the path from leaf `index` (0: right, 1: left,
// 2: none, promoted), for a tree of `count` leaves.
std::vector<int> path_shape(std::uint64_t index, std::uint64_t count) {
  std::vector<int> shape;
  for (; count > 1; index >>= 1, count = count / 2 + count % 2) {
    shape.push_back(index % 2 == 1 ? 1 : index + 1 < count ? 0 : 2);
  }
  return shape;
}

TEST(MerkleProof, CountOnlyMattersThroughThePathShape) {
  const auto leaves = byte_leaves(6);
  const Hash r5 = root(std::span(leaves.data(), 5)).value();
  Proof p = prove(std::span(leaves.data(), 5), 0).value();
  p.leaf_count = 6;  // same shape for index 0: accepted
  EXPECT_TRUE(verify(r5, leaves[0], p));
  p = prove(std::span(leaves.data(), 5), 4).value();
  p.leaf_count = 6;  // leaf 4 of 6 has a sibling (leaf 5), of 5 it is promoted: rejected
  EXPECT_FALSE(verify(r5, leaves[4], p));
}

TEST(MerkleKnownAnswer, LeafAndNodeHashes) {
  EXPECT_EQ(hex(leaf_hash(as_bytes("abc"))),
            "609f6e36d2405585188d5cfd761f407c7cc46a7d3f314c88270469dde315fcd1");
  EXPECT_EQ(hex(leaf_hash({})), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(hex(node_hash(leaf_hash(as_bytes("a")), leaf_hash(as_bytes("b")))),
            "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb");
}

TEST(MerkleKnownAnswer, Roots) {
  const std::vector<std::pair<std::size_t, std::string>> cases = {
      {1, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"},
      {2, "a20bf9a7cc2dc8a08f5f415a71b19f6ac427bab54d24eec868b5d3103449953a"},
      {3, "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688"},
      {5, "b855b42d6c30f5b087e05266783fbd6e394f7b926013ccaa67700a8b0c5a596f"},
  };
  for (const auto& [count, want] : cases) {
    const auto leaves = byte_leaves(count);
    auto r = root(leaves);
    ASSERT_TRUE(r.has_value()) << count;
    EXPECT_EQ(hex(*r), want) << count << " leaves";
    RootBuilder builder;
    for (const auto& l : leaves) builder.add(l);
    EXPECT_EQ(hex(builder.root().value()), want) << count << " leaves, streaming";
  }
}

TEST(MerkleKnownAnswer, BlockRoots) {
  EXPECT_EQ(hex(block_root(pattern(4096))),
            "f6395404e57bcee8ef61512c63c2b9a4d4c2b5eb4d3f654ec4e224abd6c66cf6");
  EXPECT_EQ(hex(block_root(pattern(5 * 1024))),
            "ba4c8b1a50bfdaa8d0f6afb7fdf250fcddbb3c921830895a604a4000e4d01219");
  EXPECT_EQ(hex(block_root(pattern(64 * 1024))),
            "2fb6f10c92aae68556bf1f15747118bc9c704bdf172d1681d8bd38346b98d9f5");
}

TEST(MerkleBlockRoot, EqualsRootOfSegmentLeaves) {
  for (std::size_t segments : {1u, 2u, 3u, 7u, 64u, 100u}) {
    const Bytes block = pattern(segments * 1024);
    std::vector<Hash> leaves;
    for (std::size_t s = 0; s < segments; ++s) {
      leaves.push_back(leaf_hash(ByteView(block).subspan(s * 1024, 1024)));
    }
    EXPECT_EQ(block_root(block), naive_root(leaves)) << segments;
  }
  // A one-segment block's root is its leaf hash; other segment sizes follow the same rule.
  const Bytes one = pattern(1024);
  EXPECT_EQ(block_root(one), leaf_hash(one));
  const Bytes small = pattern(96);
  EXPECT_EQ(block_root(small, 32), node_hash(node_hash(leaf_hash(ByteView(small).subspan(0, 32)),
                                                       leaf_hash(ByteView(small).subspan(32, 32))),
                                             leaf_hash(ByteView(small).subspan(64, 32))));
}

TEST(MerkleBlockRoot, OneFlippedBitChangesTheRoot) {
  Bytes block = pattern(64 * 1024);
  const Hash before = block_root(block);
  block[40000] ^= 0x10;
  EXPECT_NE(block_root(block), before);
}

TEST(MerkleRoot, BuilderMatchesRootAndReferenceForCounts1To130) {
  const auto leaves = byte_leaves(130);
  RootBuilder builder;
  for (std::size_t count = 1; count <= leaves.size(); ++count) {
    builder.add(leaves[count - 1]);
    ASSERT_EQ(builder.count(), count);
    const std::span<const Hash> prefix(leaves.data(), count);
    const Hash want = naive_root({prefix.begin(), prefix.end()});
    EXPECT_EQ(root(prefix).value(), want) << count;
    EXPECT_EQ(builder.root().value(), want) << count;
  }
}

TEST(MerkleRoot, ZeroLeavesIsAnError) {
  EXPECT_EQ(root({}).error().code, Errc::invalid_argument);
  EXPECT_EQ(RootBuilder().root().error().code, Errc::invalid_argument);
  EXPECT_EQ(prove({}, 0).error().code, Errc::invalid_argument);
  EXPECT_EQ(prove(byte_leaves(3), 3).error().code, Errc::invalid_argument);
}

TEST(MerkleProof, EveryIndexVerifiesForCounts1To40) {
  const auto all = byte_leaves(40);
  for (std::size_t count = 1; count <= all.size(); ++count) {
    const std::span<const Hash> leaves(all.data(), count);
    const Hash r = root(leaves).value();
    const auto max_siblings = static_cast<std::size_t>(std::bit_width(count - 1));  // ceil(log2)
    for (std::size_t i = 0; i < count; ++i) {
      auto proof = prove(leaves, i);
      ASSERT_TRUE(proof.has_value());
      EXPECT_EQ(proof->index, i);
      EXPECT_EQ(proof->leaf_count, count);
      EXPECT_LE(proof->siblings.size(), max_siblings) << count << "/" << i;
      EXPECT_TRUE(verify(r, leaves[i], *proof)) << count << "/" << i;
    }
  }
}

TEST(MerkleProof, PowerOfTwoProofsHaveFullLength) {
  const auto leaves = byte_leaves(32);
  for (std::size_t i = 0; i < 32; ++i) EXPECT_EQ(prove(leaves, i)->siblings.size(), 5u);
  // The promoted last leaf of 5 skips two levels: its only sibling is the root of the first 4.
  const auto five = byte_leaves(5);
  auto p = prove(five, 4).value();
  ASSERT_EQ(p.siblings.size(), 1u);
  EXPECT_EQ(p.siblings[0], naive_root({five.begin(), five.begin() + 4}));
}

TEST(MerkleProof, TamperingIsRejected) {
  const auto all = byte_leaves(40);
  for (std::size_t count : {2u, 3u, 5u, 8u, 13u, 40u}) {
    const std::span<const Hash> leaves(all.data(), count);
    const Hash r = root(leaves).value();
    for (std::size_t i = 0; i < count; ++i) {
      const Proof good = prove(leaves, i).value();
      ASSERT_TRUE(verify(r, leaves[i], good));

      // Wrong leaf.
      EXPECT_FALSE(verify(r, leaves[(i + 1) % count], good)) << count << "/" << i;
      // Wrong root.
      Hash bad_root = r;
      bad_root[0] ^= 1;
      EXPECT_FALSE(verify(bad_root, leaves[i], good));
      // Wrong index, including out of range.
      for (std::uint64_t j : {std::uint64_t{i} ^ 1, std::uint64_t{i} + 1, std::uint64_t{count},
                              std::uint64_t{count} + 7, ~std::uint64_t{0}}) {
        if (j == i) continue;
        Proof p = good;
        p.index = j;
        EXPECT_FALSE(verify(r, leaves[i], p)) << count << "/" << i << " as " << j;
      }
      // Wrong leaf count, including zero and huge. The root does not commit to the count, so
      // a count whose path has the same shape (index 0 of 5 or of 6 leaves) cannot be told
      // apart; every other count must be rejected.
      for (std::uint64_t n :
           {std::uint64_t{0}, std::uint64_t{count} - 1, std::uint64_t{count} + 1,
            std::uint64_t{count} * 2, std::uint64_t{1} << 40, ~std::uint64_t{0}}) {
        if (n == count) continue;
        Proof p = good;
        p.leaf_count = n;
        const bool same_shape = i < n && path_shape(i, n) == path_shape(i, count);
        EXPECT_EQ(verify(r, leaves[i], p), same_shape) << count << "/" << i << " count " << n;
      }
      // Too few siblings.
      if (!good.siblings.empty()) {
        Proof p = good;
        p.siblings.pop_back();
        EXPECT_FALSE(verify(r, leaves[i], p));
        p.siblings.clear();
        EXPECT_FALSE(verify(r, leaves[i], p));
      }
      // Too many siblings.
      {
        Proof p = good;
        p.siblings.push_back(leaves[0]);
        EXPECT_FALSE(verify(r, leaves[i], p));
        p.siblings.assign(100, leaves[0]);
        EXPECT_FALSE(verify(r, leaves[i], p));
      }
      // Each sibling tampered in turn.
      for (std::size_t s = 0; s < good.siblings.size(); ++s) {
        Proof p = good;
        p.siblings[s][31] ^= 0x80;
        EXPECT_FALSE(verify(r, leaves[i], p)) << count << "/" << i << " sibling " << s;
      }
    }
  }
}

TEST(MerkleProof, SingleLeafTree) {
  const auto leaves = byte_leaves(1);
  const Proof p = prove(leaves, 0).value();
  EXPECT_TRUE(p.siblings.empty());
  EXPECT_TRUE(verify(leaves[0], leaves[0], p));
  Proof extra = p;
  extra.siblings.push_back(leaves[0]);
  EXPECT_FALSE(verify(leaves[0], leaves[0], extra));
  EXPECT_FALSE(verify(leaves[0], byte_leaves(2)[1], p));
}

TEST(MerkleProof, TwoLevelSegmentInSlot) {
  // A segment proof in its block, then that block's proof in the slot, proves the segment
  // against the slot root (merkle.h).
  std::vector<Bytes> blocks;
  std::vector<Hash> block_roots;
  for (std::size_t b = 0; b < 5; ++b) {
    Bytes block = pattern(4096);
    block[0] = static_cast<std::uint8_t>(b);
    block_roots.push_back(block_root(block));
    blocks.push_back(std::move(block));
  }
  const Hash slot_root = root(block_roots).value();
  std::vector<Hash> segs;
  for (std::size_t s = 0; s < 4; ++s)
    segs.push_back(leaf_hash(ByteView(blocks[3]).subspan(s * 1024, 1024)));
  const Proof seg_proof = prove(segs, 2).value();
  const Proof block_proof = prove(block_roots, 3).value();
  EXPECT_TRUE(verify(block_roots[3], segs[2], seg_proof));
  EXPECT_TRUE(verify(slot_root, block_roots[3], block_proof));
}

TEST(MerkleDatasetRoot, KnownAnswerOverThreeSlotRoots) {
  // Python hashlib: node(node(leaf(0x00), leaf(0x01)), leaf(0x02)); the odd third root is promoted.
  const auto slot_roots = byte_leaves(3);
  EXPECT_EQ(hex(dataset_root(slot_roots).value()),
            "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688");
}

TEST(MerkleDatasetRoot, OneSlotIsItsOwnRootAndNoneIsAnError) {
  const auto slot_roots = byte_leaves(1);
  EXPECT_EQ(dataset_root(slot_roots).value(), slot_roots[0]);
  const auto none = dataset_root({});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Errc::invalid_argument);
}

TEST(MerkleProof, ThreeLevelSegmentInDataset) {
  // segment -> block -> slot -> dataset: each level's root is the next level's leaf, so the
  // roots reached by the three proofs chain up to the dataset root (what StorageMarket.sol checks).
  std::vector<Hash> slot_roots;
  std::vector<Hash> block_roots_of_slot1;
  Bytes block_of_slot1;
  for (std::size_t slot = 0; slot < 3; ++slot) {
    std::vector<Hash> block_roots;
    for (std::size_t b = 0; b < 5; ++b) {
      Bytes block = pattern(5 * 1024);
      block[0] = static_cast<std::uint8_t>(slot * 16 + b);
      block_roots.push_back(block_root(block));
      if (slot == 1 && b == 4) block_of_slot1 = block;
    }
    if (slot == 1) block_roots_of_slot1 = block_roots;
    slot_roots.push_back(root(block_roots).value());
  }
  const Hash dataset = dataset_root(slot_roots).value();
  std::vector<Hash> segs;
  for (std::size_t s = 0; s < 5; ++s) segs.push_back(leaf_hash(ByteView(block_of_slot1).subspan(s * 1024, 1024)));

  const auto block_hash = root_from_proof(segs[4], prove(segs, 4).value());
  ASSERT_TRUE(block_hash.has_value());
  EXPECT_EQ(*block_hash, block_roots_of_slot1[4]);
  const auto slot_hash = root_from_proof(*block_hash, prove(block_roots_of_slot1, 4).value());
  ASSERT_TRUE(slot_hash.has_value());
  EXPECT_EQ(*slot_hash, slot_roots[1]);
  EXPECT_TRUE(verify(dataset, *slot_hash, prove(slot_roots, 1).value()));
}

TEST(MerkleProof, RootFromProofRefusesAProofThatDoesNotFitItsShape) {
  const auto leaves = byte_leaves(5);
  Proof p = prove(leaves, 4).value();  // the promoted last leaf: one sibling only
  EXPECT_EQ(root_from_proof(leaves[4], p), root(leaves).value());
  Proof extra = p;
  extra.siblings.push_back(leaves[0]);
  EXPECT_FALSE(root_from_proof(leaves[4], extra).has_value());
  Proof short_proof = prove(leaves, 1).value();
  short_proof.siblings.pop_back();
  EXPECT_FALSE(root_from_proof(leaves[1], short_proof).has_value());
  p.index = 5;
  EXPECT_FALSE(root_from_proof(leaves[4], p).has_value());
}

}  // namespace
}  // namespace ob::merkle
