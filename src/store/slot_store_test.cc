#include "store/slot_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/protocol.h"
#include "testing/test_util.h"

namespace ob {
namespace {

// Block j of slot i of a test file: deterministic bytes, so nothing big has to be kept.
Bytes make_block(std::uint32_t block_size, std::uint32_t slot, std::uint64_t j, std::uint64_t salt = 0) {
  std::mt19937_64 rng(salt * 1000003 + slot * 7919 + j);
  Bytes out(block_size);
  for (std::size_t p = 0; p < out.size(); p += 8) {
    const std::uint64_t v = rng();
    for (std::size_t b = 0; b < 8 && p + b < out.size(); ++b) out[p + b] = static_cast<std::uint8_t>(v >> (8 * b));
  }
  return out;
}

Cid file_cid(std::string_view name) {
  return Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes(name)));
}

// What was written for one file: each slot's block roots and its slot root.
struct Written {
  std::uint32_t n = 0;
  std::uint32_t block_size = 0;
  std::uint64_t count = 0;
  std::uint64_t salt = 0;
  std::vector<std::vector<merkle::Hash>> roots;  // [slot][block]
  std::vector<merkle::Hash> slot_roots;
};

class SlotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SlotStore::open(dir_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_.emplace(std::move(*s));
  }

  // Writes a file of n slots with `count` blocks each and commits it under `cid`.
  Written write_file(const Cid& cid, std::uint32_t n, std::uint32_t block_size, std::uint64_t count,
                     std::uint64_t salt = 0) {
    Written w{n, block_size, count, salt, {}, {}};
    w.roots.resize(n);
    auto writer = store_->begin(n, block_size);
    EXPECT_TRUE(writer.has_value()) << writer.error().message;
    if (!writer) return w;
    // Interleaved, as the encoder writes them: block j of every slot, then block j + 1.
    for (std::uint64_t j = 0; j < count; ++j) {
      for (std::uint32_t i = 0; i < n; ++i) {
        const Bytes block = make_block(block_size, i, j, salt);
        w.roots[i].push_back(merkle::block_root(block));
        auto ok = writer->append(i, block, w.roots[i].back());
        EXPECT_TRUE(ok.has_value()) << ok.error().message;
      }
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      merkle::RootBuilder builder;
      for (const auto& r : w.roots[i]) builder.add(r);
      w.slot_roots.push_back(builder.root().value_or(merkle::Hash{}));
    }
    auto ok = writer->commit(cid);
    EXPECT_TRUE(ok.has_value()) << ok.error().message;
    return w;
  }

  // Writes slots `indices` of `cid` with begin_slots and commits them; returns the commit's
  // result. Block roots land in w.roots[i] (w sized to the largest index) and slot roots in
  // w.slot_roots[i].
  Result<void> write_slots(const Cid& cid, std::vector<std::uint32_t> indices, std::uint32_t block_size,
                           std::uint64_t count, Written& w, std::uint64_t salt = 0) {
    auto writer = store_->begin_slots(indices, block_size);
    if (!writer) return std::unexpected(writer.error());
    const std::uint32_t top = *std::max_element(indices.begin(), indices.end()) + 1;
    if (w.roots.size() < top) w.roots.resize(top);
    if (w.slot_roots.size() < top) w.slot_roots.resize(top);
    w.block_size = block_size;
    w.count = count;
    for (std::uint64_t j = 0; j < count; ++j) {
      for (std::uint32_t i : indices) {
        const Bytes block = make_block(block_size, i, j, salt);
        const merkle::Hash root = merkle::block_root(block);
        if (j == 0) w.roots[i].clear();
        w.roots[i].push_back(root);
        OB_TRY_VOID(writer->append(i, block, root));
      }
    }
    for (std::uint32_t i : indices) w.slot_roots[i] = merkle::root(w.roots[i]).value();
    return writer->commit(cid);
  }

  // Reads every block of slot i back and checks it, its root and the slot root.
  void expect_slot(const Cid& cid, std::uint32_t i, const Written& w, std::uint64_t salt = 0) {
    auto reader = store_->open_slot(cid, i);
    ASSERT_TRUE(reader.has_value()) << "slot " << i << ": " << reader.error().message;
    ASSERT_EQ(reader->block_count(), w.count);
    EXPECT_TRUE(reader->verify_index(w.slot_roots[i]).has_value()) << i;
    Bytes buf(w.block_size);
    for (std::uint64_t j = 0; j < w.count; ++j) {
      ASSERT_TRUE(reader->read_block(j, buf).has_value());
      EXPECT_EQ(buf, make_block(w.block_size, i, j, salt)) << "slot " << i << " block " << j;
    }
  }

  std::vector<std::string> staging_entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with(".staging-") || name.starts_with(".trash-")) out.push_back(name);
    }
    return out;
  }

  std::filesystem::path slot_path(const Cid& cid, std::uint32_t i, std::string_view ext) const {
    return dir_ / cid.to_string() / (std::to_string(i) + std::string(ext));
  }

  ob::testing::TempDir tmp_{"ob-slot-store"};
  const std::filesystem::path base_ = tmp_.path();
  const std::filesystem::path dir_ = base_ / "slots";
  std::optional<SlotStore> store_;
};

TEST_F(SlotStoreTest, WriteCommitAndReadBack) {
  const Cid cid = file_cid("a");
  const Written w = write_file(cid, 3, 4096, 5);
  EXPECT_TRUE(store_->has_file(cid));
  EXPECT_TRUE(staging_entries().empty());
  for (std::uint32_t i = 0; i < w.n; ++i) {
    auto reader = store_->open_slot(cid, i);
    ASSERT_TRUE(reader.has_value()) << reader.error().message;
    EXPECT_EQ(reader->slot_index(), i);
    EXPECT_EQ(reader->block_size(), 4096u);
    EXPECT_EQ(reader->block_count(), 5u);
    Bytes buf(4096);
    for (std::uint64_t j = 0; j < w.count; ++j) {
      ASSERT_TRUE(reader->read_block(j, buf).has_value());
      EXPECT_EQ(buf, make_block(4096, i, j)) << "slot " << i << " block " << j;
      auto root = reader->root_at(j);
      ASSERT_TRUE(root.has_value());
      EXPECT_EQ(*root, w.roots[i][j]);
    }
    EXPECT_TRUE(reader->verify_index(w.slot_roots[i]).has_value());
  }
}

TEST_F(SlotStoreTest, ReadBlockRejectsBadArguments) {
  const Cid cid = file_cid("b");
  write_file(cid, 2, 4096, 3);
  auto reader = store_->open_slot(cid, 1);
  ASSERT_TRUE(reader.has_value());
  Bytes buf(4096);
  auto r = reader->read_block(3, buf);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  Bytes small(4095);
  r = reader->read_block(0, small);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  auto root = reader->root_at(3);
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().code, Errc::invalid_argument);
}

TEST_F(SlotStoreTest, AppendRejectsBadArguments) {
  auto writer = store_->begin(2, 4096);
  ASSERT_TRUE(writer.has_value());
  const Bytes block = make_block(4096, 0, 0);
  const merkle::Hash root = merkle::block_root(block);
  auto r = writer->append(2, block, root);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  r = writer->append(0, ByteView(block).first(4095), root);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  const Bytes bigger = make_block(8192, 0, 0);
  r = writer->append(0, bigger, root);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

TEST_F(SlotStoreTest, VerifyIndexAcceptsTheRightRootOnly) {
  const Cid cid = file_cid("c");
  const Written w = write_file(cid, 2, 4096, 7);
  auto r0 = store_->open_slot(cid, 0);
  auto r1 = store_->open_slot(cid, 1);
  ASSERT_TRUE(r0 && r1);
  EXPECT_TRUE(r0->verify_index(w.slot_roots[0]).has_value());
  EXPECT_TRUE(r1->verify_index(w.slot_roots[1]).has_value());
  // Another slot's root, a root over a prefix, and a flipped root all fail.
  auto bad = r0->verify_index(w.slot_roots[1]);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::corrupt);
  merkle::RootBuilder prefix;
  for (std::size_t j = 0; j + 1 < w.roots[0].size(); ++j) prefix.add(w.roots[0][j]);
  bad = r0->verify_index(prefix.root().value());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::corrupt);
  merkle::Hash flipped = w.slot_roots[0];
  flipped[0] ^= 1;
  bad = r0->verify_index(flipped);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::corrupt);
}

TEST_F(SlotStoreTest, VerifyIndexCatchesATamperedEntry) {
  const Cid cid = file_cid("d");
  const Written w = write_file(cid, 1, 4096, 4);
  {
    std::fstream f(slot_path(cid, 0, ".index"), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    f.seekp(24 + 2 * 32 + 5);  // a byte inside entry 2
    f.put('\x5a');
  }
  auto reader = store_->open_slot(cid, 0);
  ASSERT_TRUE(reader.has_value());
  auto r = reader->verify_index(w.slot_roots[0]);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST_F(SlotStoreTest, RootAtAcrossTheIndexWindow) {
  // 2100 entries: more than one 64 KiB window (2048 roots) of the reader and of the writer's
  // index buffer.
  const Cid cid = file_cid("big");
  constexpr std::uint64_t kCount = 2100;
  const Written w = write_file(cid, 1, 4096, kCount);
  auto reader = store_->open_slot(cid, 0);
  ASSERT_TRUE(reader.has_value()) << reader.error().message;
  EXPECT_EQ(reader->block_count(), kCount);
  EXPECT_TRUE(reader->verify_index(w.slot_roots[0]).has_value());
  for (std::uint64_t j = 0; j < kCount; ++j) {
    auto r = reader->root_at(j);
    ASSERT_TRUE(r.has_value()) << j << ": " << r.error().message;
    ASSERT_EQ(*r, w.roots[0][j]) << j;
  }
  // Random access, jumping back and forth across the window edges.
  for (std::uint64_t j : {std::uint64_t{2099}, std::uint64_t{0}, std::uint64_t{2047},
                          std::uint64_t{2048}, std::uint64_t{1}, std::uint64_t{2049},
                          std::uint64_t{1000}, std::uint64_t{2098}, std::uint64_t{52}}) {
    auto r = reader->root_at(j);
    ASSERT_TRUE(r.has_value()) << j;
    EXPECT_EQ(*r, w.roots[0][j]) << j;
  }
  auto r = reader->root_at(kCount);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  // And blocks across the range read back.
  Bytes buf(4096);
  for (std::uint64_t j : {std::uint64_t{0}, std::uint64_t{2048}, kCount - 1}) {
    ASSERT_TRUE(reader->read_block(j, buf).has_value());
    EXPECT_EQ(buf, make_block(4096, 0, j)) << j;
  }
  EXPECT_EQ(store_->file_bytes(cid), kCount * 4096);
}

TEST_F(SlotStoreTest, AbandonedWriterLeavesNoStaging) {
  {
    auto writer = store_->begin(3, 4096);
    ASSERT_TRUE(writer.has_value());
    EXPECT_EQ(staging_entries().size(), 1u);  // it writes into a staging directory
    const Bytes block = make_block(4096, 0, 0);
    ASSERT_TRUE(writer->append(0, block, merkle::block_root(block)).has_value());
  }
  EXPECT_TRUE(staging_entries().empty());
  EXPECT_TRUE(store_->list().empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(SlotStoreTest, MovedWriterCommitsOnceAndCleansUp) {
  const Cid cid = file_cid("moved");
  auto writer = store_->begin(1, 4096);
  ASSERT_TRUE(writer.has_value());
  std::optional<SlotSetWriter> moved;
  moved.emplace(std::move(*writer));
  const Bytes block = make_block(4096, 0, 0);
  ASSERT_TRUE(moved->append(0, block, merkle::block_root(block)).has_value());
  ASSERT_TRUE(moved->commit(cid).has_value());
  moved.reset();
  writer = std::unexpected(Error{Errc::internal, "destroy the moved-from writer"});
  EXPECT_TRUE(staging_entries().empty());
  auto reader = store_->open_slot(cid, 0);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->block_count(), 1u);
}

TEST_F(SlotStoreTest, DirectoriesItCreatesArePrivate) {
  // Slots are encrypted, but which files a node holds and how big they are is its own business.
  const Cid cid = file_cid("private");
  write_file(cid, 2, 4096, 1);
  const auto mode = [](const std::filesystem::path& p) {
    return std::filesystem::status(p).permissions() & std::filesystem::perms::all;
  };
  EXPECT_EQ(mode(dir_), std::filesystem::perms::owner_all);
  EXPECT_EQ(mode(dir_ / cid.to_string()), std::filesystem::perms::owner_all);
  auto writer = store_->begin(2, 4096);
  ASSERT_TRUE(writer.has_value());
  ASSERT_EQ(staging_entries().size(), 1u);
  EXPECT_EQ(mode(dir_ / staging_entries()[0]), std::filesystem::perms::owner_all);
}

TEST_F(SlotStoreTest, OpenRemovesLeftoverStagingAndTrash) {
  const Cid cid = file_cid("kept");
  write_file(cid, 2, 4096, 2);
  std::filesystem::create_directories(dir_ / ".staging-x");
  std::filesystem::create_directories(dir_ / ".trash-y" / "sub");
  ASSERT_TRUE(fileio::write_file_atomic(dir_ / ".staging-x" / "0.blocks", as_bytes("partial")).has_value());
  ASSERT_TRUE(fileio::write_file_atomic(dir_ / ".trash-y" / "sub" / "f", as_bytes("old")).has_value());
  EXPECT_EQ(staging_entries().size(), 2u);

  store_.reset();
  auto reopened = SlotStore::open(dir_);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  store_.emplace(std::move(*reopened));
  EXPECT_TRUE(staging_entries().empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ / ".staging-x"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / ".trash-y"));
  // Committed files survive.
  EXPECT_TRUE(store_->has_file(cid));
  auto reader = store_->open_slot(cid, 1);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->block_count(), 2u);
}

TEST_F(SlotStoreTest, SecondCommitToTheSameCidIsAlreadyExists) {
  const Cid cid = file_cid("dup");
  const Written first = write_file(cid, 2, 4096, 3, /*salt=*/1);
  {
    auto writer = store_->begin(2, 4096);
    ASSERT_TRUE(writer.has_value());
    for (std::uint32_t i = 0; i < 2; ++i) {
      const Bytes block = make_block(4096, i, 0, /*salt=*/2);
      ASSERT_TRUE(writer->append(i, block, merkle::block_root(block)).has_value());
    }
    auto r = writer->commit(cid);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::already_exists) << r.error().message;
  }
  // The failed writer's staging is gone and the first file is untouched.
  EXPECT_TRUE(staging_entries().empty());
  for (std::uint32_t i = 0; i < 2; ++i) {
    auto reader = store_->open_slot(cid, i);
    ASSERT_TRUE(reader.has_value());
    EXPECT_EQ(reader->block_count(), 3u);
    EXPECT_TRUE(reader->verify_index(first.slot_roots[i]).has_value());
    Bytes buf(4096);
    ASSERT_TRUE(reader->read_block(0, buf).has_value());
    EXPECT_EQ(buf, make_block(4096, i, 0, 1));
  }
}

TEST_F(SlotStoreTest, DamageDeleteMakesTheSlotNotFound) {
  const Cid cid = file_cid("del");
  write_file(cid, 3, 4096, 2);
  ASSERT_TRUE(store_->damage(cid, 1, /*corrupt=*/false).has_value());
  auto r = store_->open_slot(cid, 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_TRUE(store_->open_slot(cid, 0).has_value());
  EXPECT_TRUE(store_->open_slot(cid, 2).has_value());
  // Damaging it again, or a slot that never existed, is not_found.
  auto again = store_->damage(cid, 1, false);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::not_found);
  auto other = store_->damage(file_cid("nope"), 0, true);
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code, Errc::not_found);
  EXPECT_EQ(store_->file_bytes(cid), 2u * 2u * 4096u);
}

TEST_F(SlotStoreTest, DamageCorruptMakesOneBlockDifferFromItsRoot) {
  const Cid cid = file_cid("flip");
  const Written w = write_file(cid, 2, 4096, 5);
  ASSERT_TRUE(store_->damage(cid, 0, /*corrupt=*/true).has_value());
  auto reader = store_->open_slot(cid, 0);
  ASSERT_TRUE(reader.has_value());
  // The index is untouched; the damage is found by checking blocks against it.
  EXPECT_TRUE(reader->verify_index(w.slot_roots[0]).has_value());
  Bytes buf(4096);
  std::vector<std::uint64_t> bad;
  for (std::uint64_t j = 0; j < w.count; ++j) {
    ASSERT_TRUE(reader->read_block(j, buf).has_value());
    if (merkle::block_root(buf) != reader->root_at(j).value()) bad.push_back(j);
  }
  EXPECT_EQ(bad, std::vector<std::uint64_t>{2});  // the middle block
  // The other slot is intact.
  auto other = store_->open_slot(cid, 1);
  ASSERT_TRUE(other.has_value());
  for (std::uint64_t j = 0; j < w.count; ++j) {
    ASSERT_TRUE(other->read_block(j, buf).has_value());
    EXPECT_EQ(merkle::block_root(buf), w.roots[1][j]);
  }
}

TEST_F(SlotStoreTest, TruncatedBlocksFileIsCorrupt) {
  const Cid cid = file_cid("trunc");
  write_file(cid, 3, 4096, 4);
  const auto p0 = slot_path(cid, 0, ".blocks");
  std::filesystem::resize_file(p0, std::filesystem::file_size(p0) - 1);
  auto r = store_->open_slot(cid, 0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  // Short by one whole block: the size disagrees with the header's count.
  const auto p1 = slot_path(cid, 1, ".blocks");
  std::filesystem::resize_file(p1, 3 * 4096);
  r = store_->open_slot(cid, 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  // Longer than the header says is just as wrong.
  const auto p2 = slot_path(cid, 2, ".blocks");
  std::filesystem::resize_file(p2, 5 * 4096);
  r = store_->open_slot(cid, 2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST_F(SlotStoreTest, DamagedIndexHeaderIsCorrupt) {
  const Cid cid = file_cid("hdr");
  write_file(cid, 3, 4096, 2);
  {
    std::fstream f(slot_path(cid, 0, ".index"), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    f.seekp(0);
    f.put('X');  // "OBSLOT01" -> "XBSLOT01"
  }
  auto r = store_->open_slot(cid, 0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);

  // A header shorter than 24 bytes.
  std::filesystem::resize_file(slot_path(cid, 1, ".index"), 10);
  r = store_->open_slot(cid, 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);

  // Slot 2's files put in slot 1's place: the header names slot 2, so slot 1 refuses them.
  std::filesystem::copy_file(slot_path(cid, 2, ".index"), slot_path(cid, 1, ".index"),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(slot_path(cid, 2, ".blocks"), slot_path(cid, 1, ".blocks"),
                             std::filesystem::copy_options::overwrite_existing);
  r = store_->open_slot(cid, 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  EXPECT_TRUE(store_->open_slot(cid, 2).has_value());
}

TEST_F(SlotStoreTest, TruncatedIndexEntriesAreCorrupt) {
  const Cid cid = file_cid("short-index");
  const Written w = write_file(cid, 1, 4096, 4);
  std::filesystem::resize_file(slot_path(cid, 0, ".index"), 24 + 2 * 32 + 10);
  auto reader = store_->open_slot(cid, 0);
  ASSERT_TRUE(reader.has_value());  // the header is intact
  auto v = reader->verify_index(w.slot_roots[0]);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, Errc::corrupt);
  auto root = reader->root_at(3);
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().code, Errc::corrupt);
}

TEST_F(SlotStoreTest, OpenSlotOfAMissingFileOrSlotIsNotFound) {
  auto r = store_->open_slot(file_cid("absent"), 0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::not_found);
  const Cid cid = file_cid("present");
  write_file(cid, 2, 4096, 1);
  r = store_->open_slot(cid, 2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_FALSE(store_->has_file(file_cid("absent")));
}

TEST_F(SlotStoreTest, RemoveReturnsTrueThenFalse) {
  const Cid cid = file_cid("rm");
  const Cid keep = file_cid("keep");
  write_file(cid, 2, 4096, 2);
  write_file(keep, 2, 4096, 2);
  auto r = store_->remove(cid);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(*r);
  EXPECT_FALSE(store_->has_file(cid));
  EXPECT_EQ(store_->open_slot(cid, 0).error().code, Errc::not_found);
  EXPECT_TRUE(staging_entries().empty());  // no trash left behind
  r = store_->remove(cid);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  EXPECT_TRUE(store_->has_file(keep));
  EXPECT_EQ(store_->list(), std::vector<Cid>{keep});
  // The CID can be stored again after removal.
  write_file(cid, 1, 4096, 1);
  EXPECT_TRUE(store_->has_file(cid));
}

TEST_F(SlotStoreTest, ListReturnsCommittedFileCids) {
  EXPECT_TRUE(store_->list().empty());
  const Cid a = file_cid("la");
  const Cid b = file_cid("lb");
  write_file(a, 1, 4096, 1);
  write_file(b, 2, 4096, 1);
  auto pending = store_->begin(1, 4096);  // uncommitted: not listed
  ASSERT_TRUE(pending.has_value());
  std::filesystem::create_directories(dir_ / "not-a-cid");
  auto listed = store_->list();
  std::sort(listed.begin(), listed.end());
  std::vector<Cid> expected{a, b};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(listed, expected);
}

TEST_F(SlotStoreTest, FileBytesCountsBlocksFilesOnly) {
  const Cid cid = file_cid("bytes");
  write_file(cid, 3, 8192, 5);
  EXPECT_EQ(store_->file_bytes(cid), 3u * 5u * 8192u);
  std::uint64_t on_disk = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / cid.to_string())) {
    on_disk += std::filesystem::file_size(e.path());
  }
  EXPECT_EQ(on_disk, 3u * 5u * 8192u + 3u * (24u + 5u * 32u));  // blocks + index files
  EXPECT_EQ(store_->file_bytes(file_cid("none")), 0u);
}

TEST_F(SlotStoreTest, IndexFileLayout) {
  // header: "OBSLOT01", u32 slot, u32 block size, u64 count (little-endian), then the roots.
  const Cid cid = file_cid("layout");
  const Written w = write_file(cid, 2, 4096, 3);
  const auto bytes = fileio::read_file(slot_path(cid, 1, ".index"), 1 << 20);
  ASSERT_TRUE(bytes.has_value());
  ASSERT_EQ(bytes->size(), 24u + 3u * 32u);
  EXPECT_EQ(std::string(as_chars(ByteView(*bytes).first(8))), "OBSLOT01");
  EXPECT_EQ(to_hex(ByteView(*bytes).subspan(8, 16)), "01000000001000000300000000000000");
  for (std::size_t j = 0; j < 3; ++j) {
    EXPECT_TRUE(std::ranges::equal(ByteView(*bytes).subspan(24 + j * 32, 32), w.roots[1][j])) << j;
  }
}

// --- partial slot sets (issue 4: a consumer holds one slot of a file) --------------------------

TEST_F(SlotStoreTest, BeginSlotsCommitsIntoAnExistingDirectory) {
  const Cid cid = file_cid("partial");
  Written w;
  ASSERT_TRUE(write_slots(cid, {1}, 4096, 3, w).has_value());
  EXPECT_EQ(store_->slots_of(cid), std::vector<std::uint32_t>{1});
  EXPECT_TRUE(store_->has_file(cid));
  // Two more slots of the same file, given out of order, join the existing directory.
  auto ok = write_slots(cid, {3, 0}, 4096, 3, w);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(store_->slots_of(cid), (std::vector<std::uint32_t>{0, 1, 3}));
  for (std::uint32_t i : {0u, 1u, 3u}) expect_slot(cid, i, w);
  EXPECT_EQ(store_->open_slot(cid, 2).error().code, Errc::not_found);
  EXPECT_TRUE(staging_entries().empty());
  EXPECT_EQ(store_->list(), std::vector<Cid>{cid});
  EXPECT_EQ(store_->file_bytes(cid), 3u * 3u * 4096u);
  EXPECT_EQ(store_->slot_bytes(cid, 3), 3u * 4096u);
  EXPECT_EQ(store_->slot_bytes(cid, 2), 0u);
}

TEST_F(SlotStoreTest, BeginSlotsAddsToAWholeFileAndRefusesPresentSlots) {
  const Cid cid = file_cid("whole-then-partial");
  Written whole = write_file(cid, 2, 4096, 2);
  Written w;
  ASSERT_TRUE(write_slots(cid, {2}, 4096, 2, w).has_value());
  EXPECT_EQ(store_->slots_of(cid), (std::vector<std::uint32_t>{0, 1, 2}));
  // A present slot is never replaced, even when committed together with an absent one: nothing
  // of that commit appears.
  Written other;
  auto again = write_slots(cid, {1, 4}, 4096, 2, other, /*salt=*/9);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::already_exists) << again.error().message;
  EXPECT_EQ(store_->slots_of(cid), (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_TRUE(staging_entries().empty());
  expect_slot(cid, 0, whole);
  expect_slot(cid, 1, whole);
  expect_slot(cid, 2, w);
  // And the whole-file writer still refuses a file that has any slot here.
  auto writer = store_->begin(1, 4096);
  ASSERT_TRUE(writer.has_value());
  const Bytes block = make_block(4096, 0, 0);
  ASSERT_TRUE(writer->append(0, block, merkle::block_root(block)).has_value());
  EXPECT_EQ(writer->commit(cid).error().code, Errc::already_exists);
}

TEST_F(SlotStoreTest, BeginSlotsRejectsBadIndices) {
  for (const std::vector<std::uint32_t>& bad : {std::vector<std::uint32_t>{}, std::vector<std::uint32_t>{2, 2},
                                                std::vector<std::uint32_t>{0, 255}}) {
    auto writer = store_->begin_slots(bad, 4096);
    ASSERT_FALSE(writer.has_value());
    EXPECT_EQ(writer.error().code, Errc::invalid_argument);
  }
  EXPECT_TRUE(staging_entries().empty());
  auto writer = store_->begin_slots(std::vector<std::uint32_t>{5, 254}, 4096);
  ASSERT_TRUE(writer.has_value()) << writer.error().message;
  EXPECT_EQ(writer->slots(), (std::vector<std::uint32_t>{5, 254}));
  const Bytes block = make_block(4096, 0, 0);
  auto r = writer->append(0, block, merkle::block_root(block));  // not one of this writer's slots
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_TRUE(writer->append(254, block, merkle::block_root(block)).has_value());
}

TEST_F(SlotStoreTest, OpenCleansCrashLeftoversOfSlotCommits) {
  const Cid cid = file_cid("crash");
  Written w;
  ASSERT_TRUE(write_slots(cid, {0, 2}, 4096, 2, w).has_value());
  // A crash between the two renames of slot 1: its .blocks arrived, its .index did not.
  std::filesystem::copy_file(slot_path(cid, 0, ".blocks"), slot_path(cid, 1, ".blocks"));
  // A file directory holding only an orphan, and an empty one (crash inside remove_slot).
  const Cid only_orphan = file_cid("only-orphan");
  const Cid empty = file_cid("empty");
  std::filesystem::create_directories(dir_ / only_orphan.to_string());
  std::filesystem::create_directories(dir_ / empty.to_string());
  ASSERT_TRUE(fileio::write_file_atomic(dir_ / only_orphan.to_string() / "7.blocks", as_bytes("partial")).has_value());
  // Not slot files: left alone.
  ASSERT_TRUE(fileio::write_file_atomic(dir_ / cid.to_string() / "notes.txt", as_bytes("x")).has_value());
  EXPECT_EQ(store_->slots_of(cid), (std::vector<std::uint32_t>{0, 2}));  // the orphan is not a slot

  store_.reset();
  auto reopened = SlotStore::open(dir_);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  store_.emplace(std::move(*reopened));
  EXPECT_FALSE(std::filesystem::exists(slot_path(cid, 1, ".blocks")));
  EXPECT_TRUE(std::filesystem::exists(dir_ / cid.to_string() / "notes.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / only_orphan.to_string()));
  EXPECT_FALSE(std::filesystem::exists(dir_ / empty.to_string()));
  EXPECT_EQ(store_->list(), std::vector<Cid>{cid});
  EXPECT_EQ(store_->slots_of(cid), (std::vector<std::uint32_t>{0, 2}));
  expect_slot(cid, 0, w);
  expect_slot(cid, 2, w);
  // The slot can be stored after all.
  ASSERT_TRUE(write_slots(cid, {1}, 4096, 2, w).has_value());
  expect_slot(cid, 1, w);
}

TEST_F(SlotStoreTest, ACommitReplacesAnOrphanBlocksFile) {
  const Cid cid = file_cid("orphan-at-commit");
  Written w;
  ASSERT_TRUE(write_slots(cid, {0}, 4096, 2, w).has_value());
  ASSERT_TRUE(fileio::write_file_atomic(slot_path(cid, 1, ".blocks"), as_bytes("left by a crash")).has_value());
  ASSERT_TRUE(write_slots(cid, {1}, 4096, 2, w).has_value());
  expect_slot(cid, 1, w);
}

TEST_F(SlotStoreTest, RemoveSlotRemovesOneSlotThenTheDirectory) {
  const Cid cid = file_cid("remove-slot");
  const Cid keep = file_cid("remove-slot-keep");
  const Written w = write_file(cid, 3, 4096, 2);
  write_file(keep, 1, 4096, 1);
  auto r = store_->remove_slot(cid, 1);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(*r);
  EXPECT_EQ(store_->slots_of(cid), (std::vector<std::uint32_t>{0, 2}));
  EXPECT_FALSE(std::filesystem::exists(slot_path(cid, 1, ".blocks")));
  EXPECT_EQ(store_->open_slot(cid, 1).error().code, Errc::not_found);
  r = store_->remove_slot(cid, 1);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  expect_slot(cid, 0, w);
  ASSERT_TRUE(store_->remove_slot(cid, 0).value());
  ASSERT_TRUE(store_->remove_slot(cid, 2).value());
  EXPECT_FALSE(store_->has_file(cid));
  EXPECT_FALSE(std::filesystem::exists(dir_ / cid.to_string()));
  EXPECT_EQ(store_->list(), std::vector<Cid>{keep});
  EXPECT_TRUE(store_->slots_of(cid).empty());
  r = store_->remove_slot(file_cid("never"), 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
}

TEST_F(SlotStoreTest, ReadersAreUnaffectedByCommitsAndRemovalsOfOtherSlots) {
  const Cid cid = file_cid("concurrent");
  Written w;
  ASSERT_TRUE(write_slots(cid, {0}, 4096, 8, w).has_value());
  // A reader opened before its own slot is removed keeps reading it.
  auto early = store_->open_slot(cid, 0);
  ASSERT_TRUE(early.has_value());

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<bool> failed{false};
  std::string reader_failure;  // written by the reader before it sets `failed`, read after join
  std::thread reader([&] {
    Bytes buf(4096);
    while (!stop) {
      auto r = store_->open_slot(cid, 0);
      if (!r || !r->verify_index(w.slot_roots[0])) {
        reader_failure = "cannot open or verify slot 0";
        failed = true;
        return;
      }
      for (std::uint64_t j = 0; j < w.count; ++j) {
        if (!r->read_block(j, buf) || merkle::block_root(buf) != w.roots[0][j]) {
          reader_failure = "bad block " + std::to_string(j);
          failed = true;
          return;
        }
      }
      ++reads;
    }
  });
  for (int round = 0; round < 20; ++round) {
    Written other;
    ASSERT_TRUE(write_slots(cid, {1, 2}, 4096, 8, other, static_cast<std::uint64_t>(round)).has_value());
    ASSERT_TRUE(store_->remove_slot(cid, 1).value());
    ASSERT_TRUE(store_->remove_slot(cid, 2).value());
  }
  while (reads < 5 && !failed) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_TRUE(reader_failure.empty()) << reader_failure;

  ASSERT_TRUE(store_->remove_slot(cid, 0).value());
  EXPECT_FALSE(std::filesystem::exists(dir_ / cid.to_string()));
  Bytes buf(4096);
  for (std::uint64_t j = 0; j < w.count; ++j) {
    ASSERT_TRUE(early->read_block(j, buf).has_value());
    EXPECT_EQ(buf, make_block(4096, 0, j));
  }
}

TEST_F(SlotStoreTest, ProveMatchesMerkleProveOverTheIndex) {
  std::uint64_t salt = 0;
  for (std::uint64_t count : {1u, 2u, 3u, 5u, 7u, 8u, 9u, 16u, 17u, 31u, 33u}) {
    const Cid cid = file_cid("prove-" + std::to_string(count));
    const Written w = write_file(cid, 1, 4096, count, ++salt);
    auto reader = store_->open_slot(cid, 0);
    ASSERT_TRUE(reader.has_value());
    for (std::uint64_t j = 0; j < count; ++j) {
      auto streamed = reader->prove(j);
      ASSERT_TRUE(streamed.has_value()) << streamed.error().message;
      auto expected = merkle::prove(w.roots[0], j).value();
      EXPECT_EQ(streamed->index, j);
      EXPECT_EQ(streamed->leaf_count, count);
      EXPECT_EQ(streamed->siblings, expected.siblings) << count << " leaves, leaf " << j;
      EXPECT_TRUE(merkle::verify(w.slot_roots[0], w.roots[0][j], *streamed));
    }
    auto out = reader->prove(count);
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code, Errc::invalid_argument);
  }
  // Across the reader's 64 KiB index window.
  const Cid big = file_cid("prove-big");
  const Written w = write_file(big, 1, 4096, 2100, 99);
  auto reader = store_->open_slot(big, 0);
  ASSERT_TRUE(reader.has_value());
  for (std::uint64_t j : {std::uint64_t{0}, std::uint64_t{2047}, std::uint64_t{2048}, std::uint64_t{2099}}) {
    auto streamed = reader->prove(j);
    ASSERT_TRUE(streamed.has_value());
    EXPECT_EQ(streamed->siblings, merkle::prove(w.roots[0], j).value().siblings) << j;
  }
}

}  // namespace
}  // namespace ob
