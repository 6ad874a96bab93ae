#include "store/block_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coding/block.h"
#include "coding/merkle.h"
#include "core/protocol.h"
#include "store/file_io.h"
#include "testing/test_util.h"

namespace ob {
namespace {

using ob::testing::seeded_bytes;

class BlockStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<BlockStore> open(BlockStore::Options options = {}) {
    auto s = BlockStore::open(dir_ / "blocks", options);
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  ob::testing::TempDir tmp_{"ob-block-store"};
  const std::filesystem::path dir_ = tmp_.path();
};

TEST_F(BlockStoreTest, PutGetHasRemoveRoundTrip) {
  auto store = open();
  ASSERT_TRUE(store);
  const Bytes data = seeded_bytes(5000, 1);
  const Cid cid = Cid::raw_sha256(data);

  auto has = store->has(cid);
  ASSERT_TRUE(has.has_value());
  EXPECT_FALSE(*has);
  auto missing = store->get(cid);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Errc::not_found);

  ASSERT_TRUE(store->put(cid, data).has_value());
  EXPECT_TRUE(store->has(cid).value());
  auto got = store->get(cid);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(*got, data);
  EXPECT_EQ(store->used_bytes(), data.size());

  auto removed = store->remove(cid);
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(store->has(cid).value());
  EXPECT_EQ(store->get(cid).error().code, Errc::not_found);
  EXPECT_EQ(store->used_bytes(), 0u);
  removed = store->remove(cid);
  ASSERT_TRUE(removed.has_value());
  EXPECT_FALSE(*removed);
  EXPECT_EQ(store->used_bytes(), 0u);
}

TEST_F(BlockStoreTest, EmptyBlock) {
  auto store = open();
  ASSERT_TRUE(store);
  const Cid cid = Cid::raw_sha256({});
  ASSERT_TRUE(store->put(cid, {}).has_value());
  EXPECT_TRUE(store->has(cid).value());
  EXPECT_EQ(store->get(cid).value(), Bytes{});
  EXPECT_EQ(store->used_bytes(), 0u);
}

TEST_F(BlockStoreTest, ListFiltersByCodecAndSorts) {
  auto store = open();
  ASSERT_TRUE(store);
  std::vector<Cid> raw;
  for (std::uint64_t i = 0; i < 5; ++i) {
    const Bytes data = seeded_bytes(100 + i, 10 + i);
    raw.push_back(Cid::raw_sha256(data));
    ASSERT_TRUE(store->put(raw.back(), data).has_value());
  }
  const Bytes slot_block = seeded_bytes(4096, 20);
  const Cid slot_cid = slot_block_cid(merkle::block_root(slot_block));
  ASSERT_TRUE(store->put(slot_cid, slot_block).has_value());
  raw.push_back(slot_cid);  // codec raw too
  const Bytes manifest = seeded_bytes(300, 21);
  const Cid manifest_cid = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(manifest));
  ASSERT_TRUE(store->put(manifest_cid, manifest).has_value());

  auto all = store->list();
  ASSERT_TRUE(all.has_value()) << all.error().message;
  EXPECT_EQ(all->size(), 7u);
  EXPECT_TRUE(std::is_sorted(all->begin(), all->end()));
  for (const Cid& c : raw) EXPECT_NE(std::find(all->begin(), all->end(), c), all->end());
  EXPECT_NE(std::find(all->begin(), all->end(), manifest_cid), all->end());

  auto manifests = store->list(protocol::kCodecManifest);
  ASSERT_TRUE(manifests.has_value());
  ASSERT_EQ(manifests->size(), 1u);
  EXPECT_EQ((*manifests)[0], manifest_cid);

  auto raws = store->list(protocol::kCodecRaw);
  ASSERT_TRUE(raws.has_value());
  std::sort(raw.begin(), raw.end());
  EXPECT_EQ(*raws, raw);

  auto none = store->list(protocol::kCodecDagPb);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());

  ASSERT_TRUE(store->remove(manifest_cid).value());
  EXPECT_TRUE(store->list(protocol::kCodecManifest).value().empty());
  EXPECT_EQ(store->list().value().size(), 6u);
}

TEST_F(BlockStoreTest, MismatchedDataIsRejectedAndNotStored) {
  auto store = open();
  ASSERT_TRUE(store);
  const Bytes data = seeded_bytes(1000, 2);
  const Cid cid = Cid::raw_sha256(data);
  Bytes wrong = data;
  wrong[500] ^= 1;
  auto r = store->put(cid, wrong);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  EXPECT_FALSE(store->has(cid).value());
  EXPECT_EQ(store->used_bytes(), 0u);
  EXPECT_TRUE(store->list().value().empty());

  // Same for a slot block CID.
  const Bytes slot_block = seeded_bytes(4096, 3);
  const Cid slot_cid = slot_block_cid(merkle::block_root(slot_block));
  Bytes bad_slot = slot_block;
  bad_slot[4095] ^= 0x80;
  r = store->put(slot_cid, bad_slot);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  EXPECT_FALSE(store->has(slot_cid).value());

  // The right bytes are then accepted.
  ASSERT_TRUE(store->put(cid, data).has_value());
  EXPECT_EQ(store->get(cid).value(), data);
}

TEST_F(BlockStoreTest, UnsupportedHashIsInvalidArgument) {
  auto store = open();
  ASSERT_TRUE(store);
  const Cid cid = Cid::v1(protocol::kCodecRaw, Multihash::make(0x13, Bytes(64, 1)).value());
  auto r = store->put(cid, seeded_bytes(10, 4));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_FALSE(store->has(cid).value());
}

TEST_F(BlockStoreTest, QuotaIsEnforced) {
  auto store = open({.quota_bytes = 10000, .sync = true});
  ASSERT_TRUE(store);
  EXPECT_EQ(store->quota_bytes(), 10000u);
  const Bytes a = seeded_bytes(4000, 5);
  const Bytes b = seeded_bytes(4000, 6);
  const Bytes c = seeded_bytes(4000, 7);
  const Bytes d = seeded_bytes(2000, 8);
  const Bytes e = seeded_bytes(1, 9);
  ASSERT_TRUE(store->put(Cid::raw_sha256(a), a).has_value());
  ASSERT_TRUE(store->put(Cid::raw_sha256(b), b).has_value());
  EXPECT_EQ(store->used_bytes(), 8000u);

  auto r = store->put(Cid::raw_sha256(c), c);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::quota_exceeded);
  EXPECT_EQ(store->used_bytes(), 8000u);
  EXPECT_FALSE(store->has(Cid::raw_sha256(c)).value());

  // Filling the quota exactly is allowed; one more byte is not.
  ASSERT_TRUE(store->put(Cid::raw_sha256(d), d).has_value());
  EXPECT_EQ(store->used_bytes(), 10000u);
  r = store->put(Cid::raw_sha256(e), e);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::quota_exceeded);
  EXPECT_EQ(store->used_bytes(), 10000u);

  // A block already stored is a no-op even at a full quota.
  EXPECT_TRUE(store->put(Cid::raw_sha256(a), a).has_value());
  EXPECT_EQ(store->used_bytes(), 10000u);

  // Removing frees room.
  ASSERT_TRUE(store->remove(Cid::raw_sha256(a)).value());
  EXPECT_EQ(store->used_bytes(), 6000u);
  EXPECT_TRUE(store->put(Cid::raw_sha256(c), c).has_value());
  EXPECT_EQ(store->used_bytes(), 10000u);
}

TEST_F(BlockStoreTest, QuotaCountsPersistedUsageAfterReopen) {
  const Bytes a = seeded_bytes(6000, 10);
  const Bytes b = seeded_bytes(6000, 11);
  {
    auto store = open({.quota_bytes = 10000});
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put(Cid::raw_sha256(a), a).has_value());
  }
  auto store = open({.quota_bytes = 10000});
  ASSERT_TRUE(store);
  EXPECT_EQ(store->used_bytes(), 6000u);
  auto r = store->put(Cid::raw_sha256(b), b);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::quota_exceeded);
}

TEST_F(BlockStoreTest, IdempotentPutDoesNotDoubleCount) {
  auto store = open();
  ASSERT_TRUE(store);
  const Bytes data = seeded_bytes(3000, 12);
  const Cid cid = Cid::raw_sha256(data);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->put(cid, data).has_value());
  EXPECT_EQ(store->used_bytes(), 3000u);
  EXPECT_EQ(store->list().value().size(), 1u);
  ASSERT_TRUE(store->remove(cid).value());
  EXPECT_EQ(store->used_bytes(), 0u);
}

TEST_F(BlockStoreTest, UsedBytesPersistAcrossReopen) {
  const Bytes a = seeded_bytes(1234, 13);
  const Bytes b = seeded_bytes(4321, 14);
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put(Cid::raw_sha256(a), a).has_value());
    ASSERT_TRUE(store->put(Cid::raw_sha256(b), b).has_value());
    EXPECT_EQ(store->used_bytes(), 1234u + 4321u);
  }
  {
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->used_bytes(), 1234u + 4321u);
    ASSERT_TRUE(store->remove(Cid::raw_sha256(a)).value());
    EXPECT_EQ(store->used_bytes(), 4321u);
  }
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->used_bytes(), 4321u);
  EXPECT_FALSE(store->has(Cid::raw_sha256(a)).value());
  EXPECT_EQ(store->get(Cid::raw_sha256(b)).value(), b);
}

TEST_F(BlockStoreTest, ManyBlocksSurviveReopen) {
  constexpr std::uint64_t kCount = 150;
  std::vector<Cid> cids;
  std::uint64_t total = 0;
  {
    auto store = open();
    ASSERT_TRUE(store);
    for (std::uint64_t i = 0; i < kCount; ++i) {
      const Bytes data = seeded_bytes(100 + i * 37, 1000 + i);
      cids.push_back(Cid::raw_sha256(data));
      total += data.size();
      ASSERT_TRUE(store->put(cids.back(), data).has_value()) << i;
    }
  }
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->used_bytes(), total);
  auto listed = store->list();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), kCount);
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto got = store->get(cids[i]);
    ASSERT_TRUE(got.has_value()) << i << ": " << got.error().message;
    EXPECT_EQ(*got, seeded_bytes(100 + i * 37, 1000 + i)) << i;
  }
}

TEST_F(BlockStoreTest, SecondOpenOfTheSameDirectoryFails) {
  auto first = open();
  ASSERT_TRUE(first);
  auto second = BlockStore::open(dir_ / "blocks", {});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Errc::io);
  EXPECT_FALSE(second.error().message.empty());
  // The first store is unaffected.
  const Bytes data = seeded_bytes(10, 15);
  ASSERT_TRUE(first->put(Cid::raw_sha256(data), data).has_value());
  EXPECT_EQ(first->get(Cid::raw_sha256(data)).value(), data);
  // Once closed, the directory opens again.
  first.reset();
  auto third = open();
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->has(Cid::raw_sha256(data)).value());
}

TEST_F(BlockStoreTest, OpenOnAFileFails) {
  const auto path = dir_ / "not-a-dir";
  ASSERT_TRUE(fileio::write_file_atomic(path, as_bytes("x")).has_value());
  auto s = BlockStore::open(path, {});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::io);
}

TEST_F(BlockStoreTest, ConcurrentPutsRespectTheQuota) {
  // Eight threads race to store 8 x 20 blocks of 1000 bytes in a 50,000-byte quota: exactly 50
  // fit, the counter matches what is stored, and duplicates across threads count once.
  auto store = open({.quota_bytes = 50000, .sync = false});
  ASSERT_TRUE(store);
  std::vector<Bytes> blocks;
  for (std::uint64_t i = 0; i < 160; ++i) blocks.push_back(seeded_bytes(1000, 5000 + i));
  std::atomic<int> stored{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t j = 0; j < 40; ++j) {
        // Each thread stores its 20 blocks, and also its neighbour's (duplicates).
        const std::size_t i = (static_cast<std::size_t>(t) * 20 + j) % blocks.size();
        auto r = store->put(Cid::raw_sha256(blocks[i]), blocks[i]);
        if (r) {
          ++stored;
        } else if (r.error().code == Errc::quota_exceeded) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(refused.load(), 0);
  const auto listed = store->list().value();
  EXPECT_EQ(listed.size(), 50u);
  EXPECT_EQ(store->used_bytes(), 50000u);
}

}  // namespace
}  // namespace ob
