// CWatcher on its own: a real slot store on disk, changed behind the watcher's back.
#include "node/consumer/cwatcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "node/engine.h"
#include "testing/test_util.h"

namespace ob::consumer {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// A home with one stored file of 3 slots, and a watcher over its slot store whose hooks
/// record what it reports.
class ConsumerWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Home::init(tmp_.path() / "home", false));
    NodeConfig config;
    config.sync = false;
    ASSERT_TRUE(save_config(tmp_.path() / "home", config));
    home_ = std::make_unique<Home>(*Home::open(tmp_.path() / "home"));
    engine_ = std::move(*Engine::open(*home_));
    const Bytes data = ob::testing::seeded_bytes(50000, 7);
    auto cid = engine_->store(memory_source(data), {"w.bin", ""}, CodingParams{2, 1, 4096});
    ASSERT_TRUE(cid) << cid.error().message;
    file_ = *cid;
    store_ = std::make_shared<SlotStore>(*SlotStore::open(home_->slots_dir()));
  }
  void TearDown() override {
    if (watcher_) watcher_->stop();
  }

  void start(CWatcherOptions options = {std::chrono::hours(1), 30ms}) {
    CWatcherHooks hooks{
        [this] {
          std::lock_guard lock(mutex_);
          return std::vector<SlotRef>(held_.begin(), held_.end());
        },
        [this](const SlotRef& ref) {
          std::lock_guard lock(mutex_);
          if (!held_.contains(ref)) return CheckVerdict::skip;
          return quiet_ ? CheckVerdict::later : CheckVerdict::check;
        },
        [this](const SlotRef& ref, const std::string& reason) {
          std::lock_guard lock(mutex_);
          damaged_.push_back(ref);
          reasons_.push_back(reason);
          held_.erase(ref);
        },
    };
    auto watcher = CWatcher::start(store_, engine_->blocks(), std::move(hooks), options);
    ASSERT_TRUE(watcher) << watcher.error().message;
    watcher_ = std::move(*watcher);
  }

  fs::path blocks_path(std::uint32_t slot) const {
    return home_->slots_dir() / file_.to_string() / (std::to_string(slot) + ".blocks");
  }
  /// Flips one byte of slot `slot`'s blocks file, as another program would.
  void flip_byte(std::uint32_t slot, off_t offset) {
    const int fd = ::open(blocks_path(slot).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    std::uint8_t byte = 0;
    ASSERT_EQ(::pread(fd, &byte, 1, offset), 1);
    byte = static_cast<std::uint8_t>(byte ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, &byte, 1, offset), 1);
    ::close(fd);
  }
  std::vector<SlotRef> damaged() {
    std::lock_guard lock(mutex_);
    return damaged_;
  }
  bool wait_damaged(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (damaged().size() >= count) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  ob::testing::TempDir tmp_{"ob-cwatcher"};
  std::unique_ptr<Home> home_;
  std::unique_ptr<Engine> engine_;
  Cid file_ = Cid::raw_sha256({});  // the stored file, set in SetUp
  std::shared_ptr<SlotStore> store_;
  std::unique_ptr<CWatcher> watcher_;
  std::mutex mutex_;
  std::set<SlotRef> held_;
  bool quiet_ = false;
  std::vector<SlotRef> damaged_;
  std::vector<std::string> reasons_;
};

TEST_F(ConsumerWatcherTest, CheckSlotFindsEachKindOfDamage) {
  for (std::uint32_t slot = 0; slot < 3; ++slot) {
    EXPECT_TRUE(check_slot(*store_, engine_->blocks(), {file_, slot}, true)) << slot;
  }
  flip_byte(0, 5000);
  // The index still matches: only the full check reads the blocks.
  EXPECT_TRUE(check_slot(*store_, engine_->blocks(), {file_, 0}, false));
  auto full = check_slot(*store_, engine_->blocks(), {file_, 0}, true);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Errc::corrupt);
  fs::resize_file(blocks_path(1), 4096);
  EXPECT_FALSE(check_slot(*store_, engine_->blocks(), {file_, 1}, false));
  fs::remove(blocks_path(2).replace_extension(".index"));
  auto gone = check_slot(*store_, engine_->blocks(), {file_, 2}, false);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Errc::not_found);
  EXPECT_EQ(check_slot(*store_, engine_->blocks(), {file_, 3}, false).error().code, Errc::invalid_argument);
}

TEST_F(ConsumerWatcherTest, ModifiedTruncatedDeletedAndMovedSlotsAreReported) {
  held_ = {{file_, 0}, {file_, 1}, {file_, 2}};
  start();
  std::this_thread::sleep_for(100ms);  // the initial scan
  EXPECT_TRUE(damaged().empty());

  flip_byte(1, 100);
  ASSERT_TRUE(wait_damaged(1));
  EXPECT_EQ(damaged()[0], (SlotRef{file_, 1}));

  fs::resize_file(blocks_path(0), 100);
  ASSERT_TRUE(wait_damaged(2));
  EXPECT_EQ(damaged()[1], (SlotRef{file_, 0}));

  fs::rename(blocks_path(2), tmp_.path() / "away.blocks");
  ASSERT_TRUE(wait_damaged(3));
  EXPECT_EQ(damaged()[2], (SlotRef{file_, 2}));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(damaged().size(), 3u);  // each reported once
  EXPECT_EQ(watcher_->damage_found(), 3u);
}

TEST_F(ConsumerWatcherTest, DeletingTheFileDirectoryReportsEverySlot) {
  held_ = {{file_, 0}, {file_, 2}};  // slot 1 is not ours: not reported
  start();
  fs::remove_all(home_->slots_dir() / file_.to_string());
  ASSERT_TRUE(wait_damaged(2));
  std::this_thread::sleep_for(200ms);
  const std::vector<SlotRef> got = damaged();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::set<SlotRef>(got.begin(), got.end()), (std::set<SlotRef>{{file_, 0}, {file_, 2}}));
}

TEST_F(ConsumerWatcherTest, EventsOnQuietSlotsAreCheckedOnceTheConsumerLetsGo) {
  held_ = {{file_, 0}};
  start();
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lock(mutex_);
    quiet_ = true;  // "the consumer itself is writing it"
  }
  flip_byte(0, 7);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(damaged().empty());
  {
    std::lock_guard lock(mutex_);
    quiet_ = false;
  }
  ASSERT_TRUE(wait_damaged(1));
  EXPECT_EQ(damaged()[0], (SlotRef{file_, 0}));
}

TEST_F(ConsumerWatcherTest, DamageDoneWhileNotWatchingIsFoundByTheFirstScan) {
  held_ = {{file_, 0}, {file_, 1}, {file_, 2}};
  std::this_thread::sleep_for(20ms);  // past the file system's timestamp granularity
  flip_byte(2, 9);
  start();
  ASSERT_TRUE(wait_damaged(1));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(damaged(), (std::vector<SlotRef>{{file_, 2}}));
}

TEST_F(ConsumerWatcherTest, ThePeriodicScanFindsWhatNoEventAnnounced) {
  held_ = {{file_, 0}};
  start();
  std::this_thread::sleep_for(100ms);  // the first scan saw the slot good
  {
    std::lock_guard lock(mutex_);
    quiet_ = true;  // "the consumer itself is storing it"
  }
  // Replace the blocks file by a moved-in copy with one byte changed: an event the consumer's
  // own commits also cause, so it is not checked while the slot is quiet.
  const fs::path copy = blocks_path(0).parent_path() / "copy.tmp";
  fs::copy_file(blocks_path(0), copy);
  {
    const int fd = ::open(copy.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const std::uint8_t byte = 0x33;
    ASSERT_EQ(::pwrite(fd, &byte, 1, 11), 1);
    ::close(fd);
  }
  fs::rename(copy, blocks_path(0));
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(damaged().empty());
  {
    std::lock_guard lock(mutex_);
    quiet_ = false;
  }
  watcher_->scan_soon();
  ASSERT_TRUE(wait_damaged(1));
  EXPECT_EQ(damaged()[0], (SlotRef{file_, 0}));
}

TEST_F(ConsumerWatcherTest, ANewFileDirectoryIsWatchedToo) {
  start();
  const Bytes data = ob::testing::seeded_bytes(9000, 8);
  auto other = engine_->store(memory_source(data), {"x.bin", ""}, CodingParams{2, 1, 4096});
  ASSERT_TRUE(other);
  std::this_thread::sleep_for(100ms);  // the IN_CREATE of its directory is handled
  {
    std::lock_guard lock(mutex_);
    held_.insert({*other, 1});
  }
  const fs::path blocks = home_->slots_dir() / other->to_string() / "1.blocks";
  ASSERT_TRUE(fs::remove(blocks));
  ASSERT_TRUE(wait_damaged(1));
  EXPECT_EQ(damaged()[0], (SlotRef{*other, 1}));
}

TEST_F(ConsumerWatcherTest, StopIsPromptAndIdempotent) {
  held_ = {{file_, 0}};
  start(CWatcherOptions{std::chrono::hours(1), std::chrono::hours(1)});
  const auto before = std::chrono::steady_clock::now();
  watcher_->stop();
  watcher_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
}

}  // namespace
}  // namespace ob::consumer
