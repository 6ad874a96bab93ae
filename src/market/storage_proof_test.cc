#include "market/storage_proof.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/protocol.h"
#include "testing/test_util.h"

namespace ob::market {
namespace {

// A stored dataset of 3 slots of 5 blocks of 5 segments: every level of the tree has an odd
// count, so every kind of path (left, right, promoted) occurs.
class StorageProofTest : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kN = 3;
  static constexpr std::uint32_t kBlockSize = 5 * 1024;
  static constexpr std::uint64_t kBlocks = 5;

  void SetUp() override {
    auto store = SlotStore::open(tmp_.path() / "slots");
    ASSERT_TRUE(store) << store.error().message;
    store_.emplace(std::move(*store));
    manifest_.params = {2, 1, kBlockSize};
    manifest_.original_size = kBlocks * manifest_.params.stripe_plaintext_size();  // exactly kBlocks stripes
    ASSERT_EQ(manifest_.stripe_count(), kBlocks);
    auto writer = store_->begin(kN, kBlockSize);
    ASSERT_TRUE(writer) << writer.error().message;
    std::vector<merkle::RootBuilder> slot_trees(kN);
    for (std::uint64_t j = 0; j < kBlocks; ++j) {
      for (std::uint32_t i = 0; i < kN; ++i) {
        const Bytes block = ob::testing::seeded_bytes(kBlockSize, i * 100 + j);
        const merkle::Hash root = merkle::block_root(block);
        slot_trees[i].add(root);
        ASSERT_TRUE(writer->append(i, block, root));
      }
    }
    for (const auto& tree : slot_trees) manifest_.slot_roots.push_back(tree.root().value());
    ASSERT_TRUE(writer->commit(cid_));
    dataset_root_ = merkle::dataset_root(manifest_.slot_roots).value();
  }

  SlotReader slot(std::uint32_t i) {
    auto reader = store_->open_slot(cid_, i);
    EXPECT_TRUE(reader) << reader.error().message;
    return std::move(*reader);
  }

  ob::testing::TempDir tmp_{"ob-storage-proof-test"};
  std::optional<SlotStore> store_;
  Manifest manifest_;
  const Cid cid_ = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("dataset")));
  merkle::Hash dataset_root_{};
};

TEST_F(StorageProofTest, EverySegmentOfEverySlotVerifiesAgainstTheDatasetRoot) {
  const DatasetShape shape = DatasetShape::of(manifest_);
  EXPECT_EQ(shape.slots, kN);
  EXPECT_EQ(shape.blocks_per_slot, kBlocks);
  EXPECT_EQ(shape.segments_per_block, 5u);
  for (std::uint32_t i = 0; i < kN; ++i) {
    const SlotReader reader = slot(i);
    for (std::uint64_t s = 0; s < shape.segments_per_slot(); ++s) {
      auto proof = prove_segment(manifest_, reader, s);
      ASSERT_TRUE(proof) << proof.error().message;
      EXPECT_TRUE(verify_segment(dataset_root_, shape, *proof)) << "slot " << i << " segment " << s;
      // The segment is the bytes stored there.
      Bytes block(kBlockSize);
      ASSERT_TRUE(reader.read_block(s / 5, block));
      EXPECT_EQ(proof->data, Bytes(block.begin() + static_cast<std::ptrdiff_t>((s % 5) * 1024),
                                   block.begin() + static_cast<std::ptrdiff_t>((s % 5 + 1) * 1024)));
      EXPECT_EQ(proof->path().size(),
                proof->in_block.siblings.size() + proof->in_slot.siblings.size() + proof->in_dataset.siblings.size());
    }
  }
}

TEST_F(StorageProofTest, AnyFlippedBitOrWrongPlaceIsRefused) {
  const DatasetShape shape = DatasetShape::of(manifest_);
  const StorageProof good = prove_segment(manifest_, slot(1), 7).value();
  ASSERT_TRUE(verify_segment(dataset_root_, shape, good));

  for (std::size_t byte : {std::size_t{0}, std::size_t{511}, std::size_t{1023}}) {
    StorageProof bad = good;
    bad.data[byte] ^= 0x80;
    EXPECT_FALSE(verify_segment(dataset_root_, shape, bad)) << "data byte " << byte;
  }
  for (merkle::Proof StorageProof::*part : {&StorageProof::in_block, &StorageProof::in_slot, &StorageProof::in_dataset}) {
    for (std::size_t k = 0; k < (good.*part).siblings.size(); ++k) {
      StorageProof bad = good;
      (bad.*part).siblings[k][31] ^= 0x01;
      EXPECT_FALSE(verify_segment(dataset_root_, shape, bad));
    }
  }
  StorageProof other_slot = good;
  other_slot.slot = 0;  // the same path claimed for another slot
  EXPECT_FALSE(verify_segment(dataset_root_, shape, other_slot));
  StorageProof other_segment = good;
  other_segment.segment = 8;
  EXPECT_FALSE(verify_segment(dataset_root_, shape, other_segment));
  StorageProof short_data = good;
  short_data.data.pop_back();
  EXPECT_FALSE(verify_segment(dataset_root_, shape, short_data));
  DatasetShape lying = shape;
  lying.blocks_per_slot = 6;  // a count the request did not say
  EXPECT_FALSE(verify_segment(dataset_root_, lying, good));
}

TEST_F(StorageProofTest, SegmentPastTheSlotIsAnInvalidArgument) {
  auto proof = prove_segment(manifest_, slot(0), kBlocks * 5);
  ASSERT_FALSE(proof);
  EXPECT_EQ(proof.error().code, Errc::invalid_argument);
}

TEST_F(StorageProofTest, ADamagedBlockOrAForeignManifestGivesNoProof) {
  Manifest foreign = manifest_;
  foreign.slot_roots[2][0] ^= 0x01;
  auto wrong_root = prove_segment(foreign, slot(2), 0);
  ASSERT_FALSE(wrong_root);
  EXPECT_EQ(wrong_root.error().code, Errc::corrupt);

  ASSERT_TRUE(store_->damage(cid_, 1, true));  // flips a byte in the middle block (block 2)
  auto damaged = prove_segment(manifest_, slot(1), 2 * 5 + 2);
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, Errc::corrupt);
  EXPECT_TRUE(prove_segment(manifest_, slot(1), 0)) << "an intact block of the same slot still proves";
}

}  // namespace
}  // namespace ob::market
