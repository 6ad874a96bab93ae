#include "node/engine.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "coding/stripe.h"
#include "store/file_io.h"
#include "testing/test_util.h"

namespace ob {
namespace {

using ob::testing::seeded_bytes;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Home::init(dir_, false));
    // Tests need no durability against power loss; they do need speed.
    NodeConfig config;
    config.sync = false;
    ASSERT_TRUE(fileio::write_file_atomic(dir_ / "config.toml", as_bytes(config.to_toml())));
    reopen();
  }
  void TearDown() override {
    engine_.reset();
    home_.reset();
  }
  void reopen() {
    engine_.reset();
    auto home = Home::open(dir_);
    ASSERT_TRUE(home) << home.error().message;
    home_ = std::make_unique<Home>(std::move(*home));
    auto engine = Engine::open(*home_);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
  }
  Cid put(ByteView data, CodingParams params, std::string name = "file.bin") {
    auto cid = engine_->store(memory_source(data), {name, "application/octet-stream"}, params);
    EXPECT_TRUE(cid) << cid.error().message;
    return *cid;
  }
  Result<Bytes> get(const Cid& cid) {
    Bytes out;
    OB_TRY_VOID(engine_->retrieve(cid, memory_sink(out)));
    return out;
  }

  ob::testing::TempDir tmp_{"ob-engine-test"};
  const std::filesystem::path dir_ = tmp_.path() / "home";
  std::unique_ptr<Home> home_;
  std::unique_ptr<Engine> engine_;
};

// Every subset of {0..n-1} with at most `max` members, as bit masks.
std::vector<std::uint32_t> loss_patterns(std::uint32_t n, std::uint32_t max) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (static_cast<std::uint32_t>(__builtin_popcount(mask)) <= max) out.push_back(mask);
  }
  return out;
}

TEST_F(EngineTest, RoundTripsEdgeSizes) {
  const CodingParams params{4, 2, 4096};
  const std::size_t chunk = params.chunk_size();
  const std::size_t stripe = params.k * chunk;
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, chunk - 1, chunk, chunk + 1, stripe - 1, stripe,
                           stripe + 1, 3 * stripe + 17}) {
    const Bytes data = seeded_bytes(size, static_cast<std::uint32_t>(size));
    const Cid cid = put(data, params);
    auto back = get(cid);
    ASSERT_TRUE(back) << "size " << size << ": " << back.error().message;
    EXPECT_EQ(*back, data) << "size " << size;
  }
}

// The push path (HTTP bodies) must produce the same files as the pull path, whatever the
// sizes of the pieces: across chunk and stripe boundaries, and with empty writes.
TEST_F(EngineTest, PushedPiecesOfAnySizeRoundTrip) {
  const CodingParams params{3, 2, 4096};
  const Bytes data = seeded_bytes(params.stripe_plaintext_size() * 2 + 999, 21);
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, params.chunk_size(), params.chunk_size() + 1,
                            params.stripe_plaintext_size(), data.size()}) {
    auto writer = engine_->begin_store({"pushed", ""}, params);
    ASSERT_TRUE(writer) << writer.error().message;
    for (std::size_t off = 0; off < data.size(); off += piece) {
      ASSERT_TRUE(writer->write(ByteView(data).subspan(off, std::min(piece, data.size() - off))));
      ASSERT_TRUE(writer->write({}));
    }
    EXPECT_EQ(writer->bytes_written(), data.size());
    auto cid = writer->finish();
    ASSERT_TRUE(cid) << cid.error().message;
    auto back = get(*cid);
    ASSERT_TRUE(back) << "piece " << piece << ": " << back.error().message;
    EXPECT_EQ(*back, data) << "piece " << piece;
  }
}

TEST_F(EngineTest, AnAbandonedWriterStoresNothing) {
  {
    auto writer = engine_->begin_store({"abandoned", ""}, CodingParams{4, 2, 4096});
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->write(seeded_bytes(100000, 1)));
  }
  auto entries = engine_->list();
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty());
  EXPECT_TRUE(std::filesystem::is_empty(home_->slots_dir()));
}

TEST_F(EngineTest, RoundTripsTheTestBinaryItself) {
  auto self = fileio::read_file("/proc/self/exe", std::size_t{1} << 31);
  ASSERT_TRUE(self) << self.error().message;
  const Cid cid = put(*self, CodingParams{});
  auto back = get(cid);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(*back == *self);
}

// The core promise: any k of n slots give the file back. Every pattern of up to m deleted or
// corrupted slots, for replication and for Reed-Solomon codes.
TEST_F(EngineTest, SurvivesEveryPatternOfUpToMLostOrCorruptSlots) {
  for (const CodingParams params : {CodingParams{1, 2, 4096}, CodingParams{4, 2, 4096}, CodingParams{3, 3, 8192}}) {
    const Bytes data = seeded_bytes(params.stripe_plaintext_size() * 3 + 1234, params.k * 31 + params.m);
    for (const bool corrupt : {false, true}) {
      for (std::uint32_t mask : loss_patterns(params.n(), params.m)) {
        if (mask == 0) continue;
        const Cid cid = put(data, params);
        for (std::uint32_t i = 0; i < params.n(); ++i) {
          if ((mask >> i) & 1) {
            ASSERT_TRUE(engine_->damage(cid, i, corrupt));
          }
        }
        auto back = get(cid);
        ASSERT_TRUE(back) << "k=" << params.k << " m=" << params.m << " mask=" << mask << ": "
                          << back.error().message;
        ASSERT_EQ(*back, data) << "mask " << mask;
        ASSERT_TRUE(engine_->remove(cid));
      }
    }
  }
}

TEST_F(EngineTest, MoreThanMLostSlotsIsAnErrorNotWrongBytes) {
  const CodingParams params{4, 2, 4096};
  const Bytes data = seeded_bytes(50000, 7);
  for (const bool corrupt : {false, true}) {
    const Cid cid = put(data, params);
    for (std::uint32_t i : {0u, 2u, 5u}) ASSERT_TRUE(engine_->damage(cid, i, corrupt));
    Bytes out;
    auto result = engine_->retrieve(cid, memory_sink(out));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, Errc::unrecoverable) << result.error().message;
  }
}

TEST_F(EngineTest, ReportsRebuiltStripesAndUnusableSlots) {
  const CodingParams params{4, 2, 4096};
  const Bytes data = seeded_bytes(params.stripe_plaintext_size() * 5, 3);
  const Cid cid = put(data, params);
  Bytes out;
  auto clean = engine_->retrieve(cid, memory_sink(out));
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->rebuilt_stripes, 0u);
  ASSERT_TRUE(engine_->damage(cid, 1, false));
  out.clear();
  auto rebuilt = engine_->retrieve(cid, memory_sink(out));
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(rebuilt->rebuilt_stripes, 5u);
  EXPECT_EQ(rebuilt->unusable_slots, std::vector<std::uint32_t>{1});
  EXPECT_EQ(out, data);
}

TEST_F(EngineTest, FileReaderPullsOneStripeAtATime) {
  const CodingParams params{3, 2, 4096};
  const Bytes data = seeded_bytes(5 * params.stripe_plaintext_size() + 123, 41);
  const Cid cid = put(data, params);
  ASSERT_TRUE(engine_->damage(cid, 1, false));  // one stripe per call, rebuilt where needed
  auto reader = engine_->begin_retrieve(cid);
  ASSERT_TRUE(reader) << reader.error().message;
  EXPECT_EQ(reader->size(), data.size());
  Bytes out;
  std::size_t calls = 0;
  while (!reader->done()) {
    const std::uint64_t before = reader->bytes_read();
    ASSERT_TRUE(reader->read_stripe(memory_sink(out)));
    EXPECT_LE(reader->bytes_read() - before, params.stripe_plaintext_size());
    ++calls;
  }
  EXPECT_EQ(calls, 6u);
  EXPECT_EQ(out, data);
  EXPECT_EQ(reader->report().unusable_slots, std::vector<std::uint32_t>{1});
  EXPECT_EQ(reader->report().rebuilt_stripes, 6u);
  auto past_end = reader->read_stripe(memory_sink(out));
  ASSERT_FALSE(past_end);
  EXPECT_EQ(past_end.error().code, Errc::invalid_argument);
}

// Random access (issue 13): reads at the start, the end, across a stripe boundary and in the
// last partial stripe give the plaintext, with every pattern of up to m slots lost, whatever
// the order of the reads (read_stripe's position is kept apart).
TEST_F(EngineTest, ReadAtGivesAnyRangeWithUpToMSlotsLost) {
  const CodingParams params{3, 2, 4096};
  const std::uint64_t stripe = params.stripe_plaintext_size();
  const Bytes data = seeded_bytes(6 * stripe + 777, 43);
  std::mt19937_64 rng(7);
  for (std::uint32_t lost : loss_patterns(params.n(), params.m)) {
    const Cid cid = put(data, params);
    for (std::uint32_t i = 0; i < params.n(); ++i) {
      if ((lost >> i) & 1u) {
        ASSERT_TRUE(engine_->damage(cid, i, false));
      }
    }
    auto reader = engine_->begin_retrieve(cid);
    ASSERT_TRUE(reader) << reader.error().message;
    struct Range {
      std::uint64_t offset, length;
    };
    std::vector<Range> ranges{{0, 1},           {0, 100},
                              {stripe - 10, 20},  // across a stripe boundary
                              {data.size() - 1, 1},
                              {data.size() - 500, 10000},  // the last partial stripe, cut at the end
                              {6 * stripe, 777},
                              {2 * stripe + 5, 2 * stripe},  // three stripes
                              {stripe + 1, 1}};
    for (int r = 0; r < 10; ++r) ranges.push_back({rng() % data.size(), 1 + rng() % (2 * stripe)});
    for (const Range& range : ranges) {
      Bytes out;
      auto n = reader->read_at(range.offset, range.length, memory_sink(out));
      ASSERT_TRUE(n) << "lost " << lost << ": " << n.error().message;
      const std::uint64_t want = std::min<std::uint64_t>(range.length, data.size() - range.offset);
      ASSERT_EQ(*n, want);
      ASSERT_EQ(out, Bytes(data.begin() + static_cast<std::ptrdiff_t>(range.offset),
                           data.begin() + static_cast<std::ptrdiff_t>(range.offset + want)))
          << "lost " << lost << ", offset " << range.offset << ", length " << range.length;
    }
    Bytes none;
    auto past = reader->read_at(data.size(), 10, memory_sink(none));
    ASSERT_TRUE(past);
    EXPECT_EQ(*past, 0u);
    // read_stripe still reads the whole file from its own position.
    Bytes whole;
    while (!reader->done()) ASSERT_TRUE(reader->read_stripe(memory_sink(whole)));
    EXPECT_EQ(whole, data);
    ASSERT_TRUE(engine_->remove(cid));
  }
}

TEST_F(EngineTest, BeginRetrieveRefusesBeforeAnyByte) {
  const CodingParams params{2, 1, 4096};
  const Cid cid = put(seeded_bytes(20000, 42), params);
  ASSERT_TRUE(engine_->damage(cid, 0, false));
  ASSERT_TRUE(engine_->damage(cid, 2, false));
  auto reader = engine_->begin_retrieve(cid);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code, Errc::unrecoverable);
  ASSERT_TRUE(engine_->remove(cid));
  auto gone = engine_->begin_retrieve(cid);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Errc::not_found);
}

// The daemon calls the engine from many threads at once (one per HTTP connection); under
// ThreadSanitizer (-DOB_TSAN=ON) this checks the Engine's thread-safety claim directly.
TEST_F(EngineTest, ConcurrentCallsFromManyThreads) {
  const CodingParams params{3, 2, 4096};
  const Bytes shared_data = seeded_bytes(100000, 44);
  const Cid shared = put(shared_data, params, "shared.bin");
  constexpr int kThreads = 4;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto fail_with = [&](const std::string& what) { failures[t] = what; };
      for (int round = 0; round < 3; ++round) {
        const Bytes data = seeded_bytes(50000 + 1000 * static_cast<std::size_t>(t), static_cast<std::uint64_t>(100 * t + round));
        auto writer = engine_->begin_store({"t" + std::to_string(t), ""}, params);
        if (!writer) return fail_with(writer.error().message);
        for (std::size_t off = 0; off < data.size(); off += 7000) {
          const std::size_t n = std::min<std::size_t>(7000, data.size() - off);
          if (auto ok = writer->write(ByteView(data).subspan(off, n)); !ok) return fail_with(ok.error().message);
        }
        auto cid = writer->finish();
        if (!cid) return fail_with(cid.error().message);
        Bytes mine, theirs;
        if (auto ok = engine_->retrieve(*cid, memory_sink(mine)); !ok || mine != data) return fail_with("own file");
        if (auto ok = engine_->retrieve(shared, memory_sink(theirs)); !ok || theirs != shared_data) {
          return fail_with("shared file");
        }
        if (auto listed = engine_->list(); !listed) return fail_with(listed.error().message);
        if (auto removed = engine_->remove(*cid); !removed) return fail_with(removed.error().message);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
  auto listed = engine_->list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().cid, shared);
}

TEST_F(EngineTest, VerifyNamesDamagedAndMissingSlots) {
  const CodingParams params{4, 2, 4096};
  const Cid cid = put(seeded_bytes(100000, 11), params);
  auto clean = engine_->verify(cid);
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->intact_slots(), 6u);
  EXPECT_TRUE(clean->recoverable);

  ASSERT_TRUE(engine_->damage(cid, 2, true));
  ASSERT_TRUE(engine_->damage(cid, 5, false));
  auto report = engine_->verify(cid);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->intact_slots(), 4u);
  EXPECT_EQ(report->slots[2].state, SlotHealth::State::damaged);
  EXPECT_EQ(report->slots[2].bad_blocks, 1u);
  EXPECT_EQ(report->slots[5].state, SlotHealth::State::missing);
  EXPECT_TRUE(report->recoverable);

  ASSERT_TRUE(engine_->damage(cid, 0, false));
  report = engine_->verify(cid);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->recoverable);
}

TEST_F(EngineTest, ListShowsDecryptedNamesAndSizes) {
  const Cid a = put(seeded_bytes(10, 1), CodingParams{}, "a.txt");
  const Cid b = put(seeded_bytes(70000, 2), CodingParams{2, 1, 8192}, "b.jpg");
  auto entries = engine_->list();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  for (const FileEntry& e : *entries) {
    if (e.cid == a) {
      EXPECT_EQ(e.name, "a.txt");
      EXPECT_EQ(e.size, 10u);
    } else {
      EXPECT_EQ(e.cid, b);
      EXPECT_EQ(e.name, "b.jpg");
      EXPECT_EQ(e.size, 70000u);
      EXPECT_EQ(e.params, (CodingParams{2, 1, 8192}));
      EXPECT_EQ(e.stored_bytes, 3u * 8192u * (CodingParams{2, 1, 8192}.stripe_count(70000)));
    }
  }
}

TEST_F(EngineTest, SameContentStoredTwiceGetsDistinctKeysAndCids) {
  const Bytes data = seeded_bytes(5000, 5);
  EXPECT_NE(put(data, CodingParams{}), put(data, CodingParams{}));
}

TEST_F(EngineTest, RemoveDeletesManifestAndSlots) {
  const Cid cid = put(seeded_bytes(5000, 5), CodingParams{});
  ASSERT_TRUE(engine_->remove(cid));
  auto back = get(cid);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::not_found);
  EXPECT_FALSE(std::filesystem::exists(home_->slots_dir() / cid.to_string()));
  auto again = engine_->remove(cid);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::not_found);
}

TEST_F(EngineTest, InvalidParametersStoreNothing) {
  const Bytes data = seeded_bytes(100, 1);
  for (const CodingParams params : {CodingParams{0, 2, 4096}, CodingParams{200, 56, 4096},
                                    CodingParams{4, 2, 1000}, CodingParams{4, 2, 8 * 1024 * 1024}}) {
    auto cid = engine_->store(memory_source(data), {"x", ""}, params);
    ASSERT_FALSE(cid);
    EXPECT_EQ(cid.error().code, Errc::invalid_argument);
  }
  auto entries = engine_->list();
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty());
}

TEST_F(EngineTest, AFailingSourceLeavesNothingBehind) {
  const Cid kept = put(seeded_bytes(1000, 9), CodingParams{});
  std::size_t calls = 0;
  const ByteSource failing = [&](MutableByteView out) -> Result<std::size_t> {
    if (++calls > 3) return fail(Errc::io, "disk unplugged");
    std::fill(out.begin(), out.end(), std::uint8_t{7});
    return out.size();
  };
  auto cid = engine_->store(failing, {"broken", ""}, CodingParams{4, 2, 4096});
  ASSERT_FALSE(cid);
  EXPECT_EQ(cid.error().message, "disk unplugged");
  auto entries = engine_->list();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->front().cid, kept);
  for (const auto& entry : std::filesystem::directory_iterator(home_->slots_dir())) {
    EXPECT_EQ(entry.path().filename().string(), kept.to_string());
  }
}

// A crash after the slots were published but before the manifest was written leaves slots that
// belong to no file; a crash mid-staging leaves a staging directory. Opening reclaims both and
// keeps every complete file.
TEST_F(EngineTest, OpenRecoversFromACrashMidPut) {
  const Bytes data = seeded_bytes(30000, 4);
  const Cid kept = put(data, CodingParams{});
  const Cid orphan = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("never written")));
  std::filesystem::create_directories(home_->slots_dir() / orphan.to_string());
  std::filesystem::create_directories(home_->slots_dir() / ".staging-deadbeef");
  reopen();
  EXPECT_FALSE(std::filesystem::exists(home_->slots_dir() / orphan.to_string()));
  EXPECT_FALSE(std::filesystem::exists(home_->slots_dir() / ".staging-deadbeef"));
  auto back = get(kept);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, data);
}

TEST_F(EngineTest, AnotherOwnersSecretCannotOpenTheFile) {
  const Cid cid = put(seeded_bytes(3000, 8), CodingParams{});
  engine_.reset();
  // Same stores, different master secret: the file key must not unwrap.
  ASSERT_TRUE(fileio::write_file_atomic(dir_ / "keys/master.key", seeded_bytes(32, 99), 0600));
  reopen();
  auto back = get(cid);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::corrupt);
}

TEST_F(EngineTest, RejectsCidsThatAreNotFiles) {
  auto back = get(Cid::raw_sha256(as_bytes("hello world")));
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::invalid_argument);
  auto missing = get(Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("nope"))));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST_F(EngineTest, SwappedSlotFilesAreDetectedAndRebuilt) {
  const CodingParams params{4, 2, 4096};
  const Bytes data = seeded_bytes(params.stripe_plaintext_size() * 2, 12);
  const Cid cid = put(data, params);
  const auto slot_dir = home_->slots_dir() / cid.to_string();
  // Slot 0's blocks replaced by slot 1's: every block is a valid block of this file, in the
  // wrong place. The slot root check must catch it.
  std::filesystem::copy_file(slot_dir / "1.blocks", slot_dir / "0.blocks",
                             std::filesystem::copy_options::overwrite_existing);
  auto back = get(cid);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, data);
  auto report = engine_->verify(cid);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->slots[0].state, SlotHealth::State::damaged);
}

}  // namespace
}  // namespace ob
