#include "node/producer/pwatcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <set>

#include "store/file_io.h"
#include "testing/test_util.h"

namespace ob::producer {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Collects the watcher's reports; waits for one.
class Reports {
 public:
  PWatcher::Callback callback() {
    return [this](const std::string& path, Change change) {
      std::lock_guard lock(mutex_);
      seen_.emplace(path, change);
      changed_.notify_all();
    };
  }
  bool wait_for(const std::string& path, Change change) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return seen_.contains({path, change}); });
  }
  bool saw(const std::string& path) {
    std::lock_guard lock(mutex_);
    return std::ranges::any_of(seen_, [&](const auto& s) { return s.first == path; });
  }
  bool saw_prefix(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    return std::ranges::any_of(seen_, [&](const auto& s) { return s.first.starts_with(prefix); });
  }
  void clear() {
    std::lock_guard lock(mutex_);
    seen_.clear();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::pair<std::string, Change>> seen_;
};

void write(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(ProducerPWatcherTest, SeesNewChangedAndDeletedFiles) {
  ob::testing::TempDir dir;
  Reports reports;
  auto watcher = PWatcher::start(dir.path(), reports.callback());
  ASSERT_TRUE(watcher) << watcher.error().message;

  write(dir.path() / "new.txt", "one");
  EXPECT_TRUE(reports.wait_for("new.txt", Change::written));
  reports.clear();
  write(dir.path() / "new.txt", "two");
  EXPECT_TRUE(reports.wait_for("new.txt", Change::written));
  fs::remove(dir.path() / "new.txt");
  EXPECT_TRUE(reports.wait_for("new.txt", Change::removed));

  // Moved in and out.
  ob::testing::TempDir outside;
  write(outside.path() / "in.bin", "x");
  fs::rename(outside.path() / "in.bin", dir.path() / "in.bin");
  EXPECT_TRUE(reports.wait_for("in.bin", Change::written));
  fs::rename(dir.path() / "in.bin", outside.path() / "out.bin");
  EXPECT_TRUE(reports.wait_for("in.bin", Change::removed));
}

TEST(ProducerPWatcherTest, WatchesSubdirectoriesOldAndNew) {
  ob::testing::TempDir dir;
  fs::create_directories(dir.path() / "old" / "deep");
  Reports reports;
  auto watcher = PWatcher::start(dir.path(), reports.callback());
  ASSERT_TRUE(watcher);

  write(dir.path() / "old" / "deep" / "a", "a");
  EXPECT_TRUE(reports.wait_for("old/deep/a", Change::written));

  // A directory made after start is watched too, and files already in a directory moved in
  // are reported.
  fs::create_directories(dir.path() / "new");
  write(dir.path() / "new" / "b", "b");
  EXPECT_TRUE(reports.wait_for("new/b", Change::written));
  ob::testing::TempDir outside;
  fs::create_directories(outside.path() / "tree" / "sub");
  write(outside.path() / "tree" / "sub" / "c", "c");
  fs::rename(outside.path() / "tree", dir.path() / "tree");
  EXPECT_TRUE(reports.wait_for("tree/sub/c", Change::written));
  write(dir.path() / "tree" / "sub" / "d", "d");
  EXPECT_TRUE(reports.wait_for("tree/sub/d", Change::written));

  // A directory moved away is reported removed as a whole, and no longer watched.
  fs::rename(dir.path() / "tree", outside.path() / "gone");
  EXPECT_TRUE(reports.wait_for("tree", Change::removed));
  reports.clear();
  write(outside.path() / "gone" / "sub" / "e", "e");
  write(dir.path() / "marker", "m");
  EXPECT_TRUE(reports.wait_for("marker", Change::written));
  EXPECT_FALSE(reports.saw("tree/sub/e"));
}

TEST(ProducerPWatcherTest, IgnoresTemporaryFilesOfAtomicWrites) {
  ob::testing::TempDir dir;
  Reports reports;
  auto watcher = PWatcher::start(dir.path(), reports.callback());
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(fileio::write_file_atomic(dir.path() / "atomic.txt", as_bytes("done")));
  EXPECT_TRUE(reports.wait_for("atomic.txt", Change::written));
  // A temporary file left by a crash (written and closed, never renamed) is not a new file.
  const std::string leftover = std::string(fileio::kTemporaryPrefix) + "0123456789abcdef0123456789abcdef";
  write(dir.path() / leftover, "half");
  write(dir.path() / "marker", "m");
  EXPECT_TRUE(reports.wait_for("marker", Change::written));
  // The temporary files were written and closed, one renamed: never reported.
  EXPECT_FALSE(reports.saw_prefix(std::string(fileio::kTemporaryPrefix)));
  EXPECT_TRUE(fileio::is_temporary_name(leftover));
  EXPECT_FALSE(fileio::is_temporary_name(".ob-tmp-0123"));
  EXPECT_FALSE(fileio::is_temporary_name(".ob-tmp-0123456789abcdef0123456789abcdeg"));
  EXPECT_FALSE(fileio::is_temporary_name(leftover + ".txt"));
  EXPECT_FALSE(fileio::is_temporary_name("a.txt.tmp-0123456789abcdef"));  // a user's name: never ours
  EXPECT_FALSE(fileio::is_temporary_name("report.tmp"));
}

TEST(ProducerPWatcherTest, StopsPromptlyAndRefusesAMissingDirectory) {
  ob::testing::TempDir dir;
  Reports reports;
  auto watcher = PWatcher::start(dir.path(), reports.callback());
  ASSERT_TRUE(watcher);
  const auto before = std::chrono::steady_clock::now();
  (*watcher)->stop();
  (*watcher)->stop();  // idempotent
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
  write(dir.path() / "after", "x");
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(reports.saw("after"));
  EXPECT_FALSE(PWatcher::start(dir.path() / "missing", reports.callback()));
}

}  // namespace
}  // namespace ob::producer
