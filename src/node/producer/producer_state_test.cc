#include "node/producer/producer_state.h"

#include <gtest/gtest.h>

#include "node/producer/md5.h"
#include "store/file_io.h"
#include "testing/test_util.h"

namespace ob::producer {
namespace {

namespace fs = std::filesystem;

ProducerState sample() {
  ProducerState state;
  state.started = true;
  LocalFile pending;
  pending.path = "a.txt";
  pending.size = 5;
  pending.mtime_ns = 1'700'000'000'123'456'789;
  pending.availability = 2;
  pending.tier = "premium";
  pending.error = "tracker unreachable";
  LocalFile uploading;
  uploading.path = "dir/b ü.bin";
  uploading.md5 = "900150983cd24fb0d6963f7d28e17f72";
  uploading.size = 1ull << 40;
  uploading.present = false;
  uploading.status = LocalStatus::uploading;
  uploading.file_id = "bafyexample";
  uploading.k = 4;
  uploading.m = 2;
  LocalFile uploaded = uploading;
  uploaded.path = "c";
  uploaded.present = true;
  uploaded.status = LocalStatus::uploaded;
  LocalFile index_version = uploading;
  index_version.path = ".open-bucket/index";
  index_version.file_id = "bafyindex2";
  index_version.index = true;
  state.files = {pending, uploading, uploaded, index_version};
  state.download_dirs = {"/tmp/out", "/tmp/out"};  // two downloads into one directory
  state.index.entries = {IndexEntry{"bafyexample", "dir/b ü.bin", 1ull << 40, uploading.md5, "basic", 4, 2, 3, "42",
                                    1700000000}};
  state.index.dirty = true;
  state.index.sequence = 7;
  state.index.published = "bafyindex1";
  state.index.published_at = 1700000001;
  state.index.uploading = "bafyindex2";
  state.index.retired = {"bafyindex0"};
  return state;
}

TEST(ProducerStateTest, RoundTripsThroughTheFile) {
  ob::testing::TempDir dir;
  const fs::path file = dir.path() / "state" / "producer.json";
  const ProducerState state = sample();
  ASSERT_TRUE(save_state(file, state));
  auto loaded = load_state(file);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(*loaded, state);
  // Written private: it names the owner's files.
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

TEST(ProducerStateTest, AFileOfAnOlderVersionHasAnIndexToBuild) {
  nlohmann::json json = state_to_json(sample());
  json.erase("index");
  auto state = state_from_json(json);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_TRUE(state->index.entries.empty());
  EXPECT_TRUE(state->index.dirty);
  json["index"] = {{"entries", {{{"path", "no id"}}}}};
  EXPECT_FALSE(state_from_json(json));
}

TEST(ProducerStateTest, RegisteredIsNotSaved) {
  ob::testing::TempDir dir;
  ProducerState state = sample();
  state.files[1].registered = true;
  const fs::path file = dir.path() / "producer.json";
  ASSERT_TRUE(save_state(file, state));
  auto loaded = load_state(file);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->files[1].registered);
}

TEST(ProducerStateTest, AMissingFileIsAnEmptyState) {
  ob::testing::TempDir dir;
  auto loaded = load_state(dir.path() / "none.json");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, ProducerState{});
}

TEST(ProducerStateTest, DamagedFilesAreRefusedAsCorrupt) {
  ob::testing::TempDir dir;
  const fs::path file = dir.path() / "producer.json";
  for (const std::string text :
       {"{not json", "[]", R"({"version": 2, "files": []})", R"({"version": 1})",
        R"({"version": 1, "files": [{"path": "a", "status": "LOST"}]})",
        R"({"version": 1, "files": [{"path": "a", "status": "UPLOADING"}]})",
        R"({"version": 1, "files": [{"path": "a", "size": -1}]})",
        R"({"version": 1, "files": [{"status": "PENDING"}]})",
        R"({"version": 1, "files": [], "downloadDirs": "/tmp"})",
        R"({"version": 1, "files": [], "downloadDirs": [""]})"}) {
    ASSERT_TRUE(fileio::write_file_atomic(file, as_bytes(text)));
    auto loaded = load_state(file);
    ASSERT_FALSE(loaded) << text;
    EXPECT_EQ(loaded.error().code, Errc::corrupt) << text;
  }
}

TEST(ProducerStateTest, ACrashDuringASaveLeavesTheOldStateReadable) {
  ob::testing::TempDir dir;
  const fs::path file = dir.path() / "producer.json";
  const ProducerState state = sample();
  ASSERT_TRUE(save_state(file, state));
  // What a crash in the middle of the next save leaves: a half-written temporary beside it.
  ASSERT_TRUE(fileio::write_file_atomic(dir.path() / ".ob-tmp-0123456789abcdef0123456789abcdef", as_bytes("{\"vers")));
  auto loaded = load_state(file);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, state);
  // And a later save replaces the file as a whole.
  ProducerState next;
  ASSERT_TRUE(save_state(file, next));
  loaded = load_state(file);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, next);
}

TEST(ProducerStateTest, Md5MatchesKnownVectors) {
  ob::testing::TempDir dir;
  const fs::path file = dir.path() / "abc";
  ASSERT_TRUE(fileio::write_file_atomic(file, as_bytes("abc")));
  auto digest = md5_file(file);
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->md5, "900150983cd24fb0d6963f7d28e17f72");  // RFC 1321
  EXPECT_EQ(digest->size, 3u);
  ASSERT_TRUE(fileio::write_file_atomic(file, ByteView()));
  digest = md5_file(file);
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->md5, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_file(dir.path() / "missing").error().code, Errc::not_found);
}

}  // namespace
}  // namespace ob::producer
