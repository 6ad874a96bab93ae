#include "node/producer/producer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "node/engine.h"
#include "node/producer/fake_tracker_test_util.h"
#include "node/producer/md5.h"
#include "node/startup.h"
#include "store/file_io.h"
#include "testing/test_util.h"

namespace ob::producer {
namespace {

namespace fs = std::filesystem;
namespace tpb = openbucket::tracker::v1;
using namespace std::chrono_literals;
using ob::testing::seeded_bytes;

// --- coding options ---------------------------------------------------------------------------

TEST(ProducerCodingTest, OptionsMapToCodingParams) {
  const CodingParams defaults{4, 2, 65536};
  // Neither: k from the config, m = default availability - 1.
  auto c = choose_coding({}, defaults, 3);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, (CodingParams{4, 2, 65536}));
  EXPECT_EQ(c->availability, 3u);
  // Availability alone: replication.
  c = choose_coding({.availability = 5}, defaults, 3);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, (CodingParams{1, 4, 65536}));
  EXPECT_EQ(c->availability, 5u);
  c = choose_coding({.availability = 1}, defaults, 3);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, (CodingParams{1, 0, 65536}));
  // k and m: availability m + 1 unless given (and at most m + 1).
  c = choose_coding({.k = 10, .m = 4}, defaults, 3);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, (CodingParams{10, 4, 65536}));
  EXPECT_EQ(c->availability, 5u);
  c = choose_coding({.availability = 2, .k = 10, .m = 4}, defaults, 3);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->availability, 2u);
  c = choose_coding({.k = 8}, defaults, 3);  // m from the config
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, (CodingParams{8, 2, 65536}));
  // Refused.
  for (const UploadOptions& bad : {UploadOptions{.availability = 0}, UploadOptions{.availability = 256},
                                   UploadOptions{.availability = 6, .k = 10, .m = 4}, UploadOptions{.k = 0},
                                   UploadOptions{.k = 200, .m = 100}, UploadOptions{.m = 255},
                                   UploadOptions{.k = 0xffffffffu, .m = 2}}) {
    auto refused = choose_coding(bad, defaults, 3);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  }
  EXPECT_FALSE(choose_coding({}, defaults, 0));
}

TEST(ProducerCodingTest, TiersParseInAnyCase) {
  EXPECT_EQ(parse_tier("free").value(), tpb::TIER_FREE);
  EXPECT_EQ(parse_tier("Basic").value(), tpb::TIER_BASIC);
  EXPECT_EQ(parse_tier("PREMIUM").value(), tpb::TIER_PREMIUM);
  EXPECT_EQ(parse_tier("gold").error().message, "Invalid tier: 'gold' is not free, basic or premium");
}

// --- the role ---------------------------------------------------------------------------------

/// Waits up to 10 s for `done`.
template <typename F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

/// Writes a file as a whole (temporary file, then rename), as a finished copy appears.
void write(const fs::path& path, ByteView data) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(fileio::write_file_atomic(path, data));
}

Bytes read(const fs::path& path) {
  auto bytes = fileio::read_file(path, 64 << 20);
  return bytes ? *bytes : Bytes();
}

std::string md5_of(const fs::path& path) { return md5_file(path).value().md5; }

class ProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("XDG_CONFIG_HOME")) saved_xdg_ = old;
    ::setenv("XDG_CONFIG_HOME", xdg_.path().c_str(), 1);
    NodeConfig config;
    config.sync = false;
    config.coding = CodingParams{2, 1, 16384};
    config.default_availability = 2;
    config.producer_directory = (root_.path() / "produce").string();
    ASSERT_TRUE(Home::init(home_dir(), false, config));
    auto home = Home::open(home_dir());
    ASSERT_TRUE(home) << home.error().message;
    home_ = std::make_unique<Home>(std::move(*home));
    auto engine = Engine::open(*home_);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
  }
  void TearDown() override {
    producer_.reset();
    engine_.reset();
    if (saved_xdg_) {
      ::setenv("XDG_CONFIG_HOME", saved_xdg_->c_str(), 1);
    } else {
      ::unsetenv("XDG_CONFIG_HOME");
    }
  }
  fs::path home_dir() const { return root_.path() / "home"; }
  fs::path produce() const { return root_.path() / "produce"; }

  Producer& open(bool with_tracker = true) {
    producer_.reset();
    ProducerOptions options;
    options.poll_interval = 50ms;
    options.retry_interval = 100ms;
    options.remove_timeout = 500ms;
    options.tracker_timeout = 3s;
    options.settle_time = 100ms;
    std::optional<tracker::TrackerClient> client;
    if (with_tracker) client = tracker_->client();
    auto producer = Producer::open(*home_, *engine_, nullptr, client, options);
    EXPECT_TRUE(producer) << producer.error().message;
    producer_ = std::move(*producer);
    return *producer_;
  }
  /// The tracker's only file, once there is one.
  std::optional<tpb::FileInfo> only_file() {
    if (!eventually([&] { return tracker_->files().size() == 1; })) return std::nullopt;
    return tracker_->files()[0];
  }
  bool engine_has(const std::string& id) { return engine_->has(Cid::parse(id).value()).value_or(false); }
  NodeConfig config_on_disk() { return Home::open(home_dir()).value().config(); }

  ob::testing::TempDir root_{"ob-producer"};
  ob::testing::TempDir xdg_{"ob-xdg"};
  std::optional<std::string> saved_xdg_;
  std::unique_ptr<Home> home_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ob::testing::FakeTracker> tracker_ = std::make_unique<ob::testing::FakeTracker>();
  std::unique_ptr<Producer> producer_;
};

TEST_F(ProducerTest, StartNeedsATrackerAndChangesNothingWithout) {
  Producer& p = open(/*with_tracker=*/false);
  auto started = p.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::invalid_argument);
  EXPECT_NE(started.error().message.find("tracker"), std::string::npos);
  EXPECT_FALSE(p.running());
  EXPECT_FALSE(fs::exists(home_dir() / "state" / "producer.json"));
  EXPECT_FALSE(fs::exists(produce()));
}

TEST_F(ProducerTest, StartAndStopAreRecordedForTheNextDaemon) {
  Producer* p = &open();
  EXPECT_EQ(p->start().value(), true);
  EXPECT_EQ(p->start().value(), false);
  EXPECT_TRUE(p->running());
  EXPECT_TRUE(fs::is_directory(produce()));
  // The daemon exits (shutdown keeps the record) and a new one reads it.
  p = &open();
  EXPECT_TRUE(p->was_started());
  EXPECT_FALSE(p->running());
  EXPECT_EQ(p->start().value(), true);
  EXPECT_EQ(p->stop().value(), true);
  EXPECT_EQ(p->stop().value(), false);
  p = &open();
  EXPECT_FALSE(p->was_started());
}

TEST_F(ProducerTest, ADamagedStateFileIsMovedAsideNotFatal) {
  fs::create_directories(home_dir() / "state");
  ASSERT_TRUE(fileio::write_file_atomic(home_dir() / "state" / "producer.json", as_bytes("{garbage")));
  Producer& p = open();
  EXPECT_FALSE(p.was_started());
  EXPECT_TRUE(fs::exists(home_dir() / "state" / "producer.json.corrupt"));
}

TEST_F(ProducerTest, FilesPutInTheDirectoryAreUploadedUntilTheTrackerSaysUploaded) {
  Producer& p = open();
  ASSERT_TRUE(p.start());
  const Bytes content = seeded_bytes(100'000, 1);
  write(produce() / "sub" / "a.bin", content);
  auto info = only_file();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->path(), "sub/a.bin");
  EXPECT_EQ(info->hash(), md5_of(produce() / "sub" / "a.bin"));
  EXPECT_EQ(info->size(), content.size());
  EXPECT_EQ(info->availability(), 2u);  // the default
  EXPECT_EQ(info->k(), 2u);
  EXPECT_EQ(info->m(), 1u);
  ASSERT_TRUE(engine_has(info->file_id()));  // served to consumers while it uploads

  auto rows = p.list();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].status, "UPLOADING");
  EXPECT_EQ((*rows)[0].id, info->file_id());

  tracker_->set_status(info->file_id(), tpb::STATUS_UPLOADED);
  EXPECT_TRUE(eventually([&] { return !engine_has(info->file_id()); }));
  EXPECT_TRUE(eventually([&] {
    const auto local = p.list_local();
    return local.size() == 1 && local[0].status == LocalStatus::uploaded;
  }));
  EXPECT_EQ(read(produce() / "sub" / "a.bin"), content);  // the plaintext stays
  EXPECT_EQ(tracker_->register_calls(), 1);
}

TEST_F(ProducerTest, AFileStillBeingWrittenWaitsUntilItSettles) {
  Producer& p = open();
  ASSERT_TRUE(p.start());
  write(produce() / "growing.bin", seeded_bytes(1000, 12));
  // Modified "just now" for the next second: a copy in progress.
  fs::last_write_time(produce() / "growing.bin", fs::file_time_type::clock::now() + 1s);
  ASSERT_TRUE(eventually([&] { return p.list_local().size() == 1; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(tracker_->files().empty());
  EXPECT_EQ(p.list_local()[0].status, LocalStatus::pending);
  EXPECT_TRUE(only_file());  // then it goes up
}

TEST_F(ProducerTest, UploadCopiesAFileInOncePerMd5) {
  Producer& p = open();
  ob::testing::TempDir outside;
  const Bytes content = seeded_bytes(50'000, 2);
  write(outside.path() / "photo.jpg", content);
  // A paid tier opens a storage request: without its duration it is refused, nothing copied.
  auto paid = p.upload(outside.path() / "photo.jpg", {.availability = 2, .tier = "premium"});
  ASSERT_FALSE(paid);
  EXPECT_EQ(paid.error().message, "Invalid duration: a premium-tier upload needs one (e.g. 30d)");
  EXPECT_FALSE(fs::exists(produce() / "photo.jpg"));
  auto id = p.upload(outside.path() / "photo.jpg", {.availability = 2, .tier = "free"});  // starts the producer
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_TRUE(p.running());
  EXPECT_EQ(read(produce() / "photo.jpg"), content);
  auto info = tracker_->file(*id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->k(), 1u);  // availability alone: replication
  EXPECT_EQ(info->m(), 1u);
  EXPECT_EQ(info->tier(), tpb::TIER_FREE);
  EXPECT_EQ(info->path(), "photo.jpg");

  // The same bytes under another name: already there, not copied, same file.
  write(outside.path() / "copy.jpg", content);
  auto again = p.upload(outside.path() / "copy.jpg", {});
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *id);
  EXPECT_FALSE(fs::exists(produce() / "copy.jpg"));
  // Other bytes under a taken name get a free one.
  write(outside.path() / "other" / "photo.jpg", seeded_bytes(10, 3));
  ASSERT_TRUE(p.upload(outside.path() / "other" / "photo.jpg", {}));
  EXPECT_TRUE(fs::exists(produce() / "photo (2).jpg"));
  EXPECT_TRUE(eventually([&] { return tracker_->files().size() == 2; }));
}

fs::perms mode_of(const fs::path& path) { return fs::symlink_status(path).permissions() & fs::perms::all; }

TEST_F(ProducerTest, APrivateFileStaysPrivateInTheProducerDirectory) {
  Producer& p = open();
  ob::testing::TempDir outside;
  const fs::path secret = outside.path() / "secret";
  ASSERT_TRUE(fileio::create_private_directories(secret));
  write(secret / "diary.txt", seeded_bytes(20'000, 21));
  fs::permissions(secret / "diary.txt", fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(p.upload(secret / "diary.txt", {}));  // starts the producer: creates its directory
  EXPECT_EQ(mode_of(produce()), fs::perms::owner_all);
  EXPECT_EQ(mode_of(produce() / "diary.txt"), fs::perms::owner_read | fs::perms::owner_write);
  // Never more open than the source: a file others may not read stays so.
  write(outside.path() / "team.txt", seeded_bytes(20'000, 22));
  fs::permissions(outside.path() / "team.txt", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  ASSERT_TRUE(p.upload(outside.path() / "team.txt", {}));
  EXPECT_EQ(mode_of(produce() / "team.txt") & fs::perms::others_all, fs::perms::none);
  EXPECT_TRUE(eventually([&] { return tracker_->files().size() == 2; }));
}

TEST_F(ProducerTest, StartRemovesTemporaryFilesACrashLeftAndNeverUploadsThem) {
  // What a daemon killed in the middle of copying a file in (or of a download into the
  // directory) leaves: a temporary file nobody holds.
  const std::string leftover = std::string(fileio::kTemporaryPrefix) + "0123456789abcdef0123456789abcdef";
  write(produce() / leftover, seeded_bytes(10'000, 23));
  write(produce() / "sub" / leftover, seeded_bytes(10'000, 24));
  // One being written right now (a download of this process into the directory) stays.
  auto live = fileio::AtomicFile::create(produce() / "arriving.bin");
  ASSERT_TRUE(live);
  ASSERT_TRUE(live->write(seeded_bytes(10'000, 25)));
  Producer& p = open();
  ASSERT_TRUE(p.start());
  EXPECT_FALSE(fs::exists(produce() / leftover));
  EXPECT_FALSE(fs::exists(produce() / "sub" / leftover));
  ASSERT_TRUE(live->commit());
  EXPECT_TRUE(eventually([&] { return tracker_->files().size() == 1; }));
  ASSERT_EQ(p.list_local().size(), 1u);
  EXPECT_EQ(p.list_local()[0].path, "arriving.bin");
}

TEST_F(ProducerTest, ADownloadACrashInterruptedLeavesNothingAfterTheNextStart) {
  ob::testing::TempDir dest;
  const fs::path state_file = home_dir() / "state" / "producer.json";
  write(dest.path() / "mine.txt", seeded_bytes(100, 26));
  // The state a crash in the middle of a download leaves: its destination recorded, its
  // temporary file there.
  ProducerState crashed = load_state(state_file).value();
  crashed.download_dirs.push_back(dest.path().string());
  ASSERT_TRUE(save_state(state_file, crashed));
  const std::string leftover = std::string(fileio::kTemporaryPrefix) + "fedcba9876543210fedcba9876543210";
  write(dest.path() / leftover, seeded_bytes(10'000, 27));

  Producer& p = open();
  EXPECT_FALSE(fs::exists(dest.path() / leftover));
  EXPECT_TRUE(fs::exists(dest.path() / "mine.txt"));  // the user's files are left alone
  EXPECT_TRUE(load_state(state_file).value().download_dirs.empty());

  // A download that runs records its destination only while it runs.
  ob::testing::TempDir outside;
  write(outside.path() / "doc.txt", seeded_bytes(30'000, 28));
  auto id = p.upload(outside.path() / "doc.txt", {});
  ASSERT_TRUE(id);
  ASSERT_TRUE(p.download({*id, ""}, dest.path(), true));
  EXPECT_TRUE(load_state(state_file).value().download_dirs.empty());
  EXPECT_EQ(read(dest.path() / "doc.txt"), read(outside.path() / "doc.txt"));
}

TEST_F(ProducerTest, UploadRefusesBadPathsAndOptionsWithoutChangingAnything) {
  Producer& p = open();
  ob::testing::TempDir outside;
  write(outside.path() / "ok.bin", seeded_bytes(10, 4));
  for (const fs::path& bad : {fs::path("relative.bin"), outside.path() / "missing", outside.path()}) {
    auto id = p.upload(bad, {});
    ASSERT_FALSE(id) << bad;
    EXPECT_EQ(id.error().code, Errc::invalid_argument);
    EXPECT_TRUE(id.error().message.starts_with("Invalid path")) << id.error().message;
  }
  for (const UploadOptions& bad : {UploadOptions{.availability = 0}, UploadOptions{.k = 300},
                                   UploadOptions{.tier = "gold"}}) {
    auto id = p.upload(outside.path() / "ok.bin", bad);
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error().code, Errc::invalid_argument);
  }
  EXPECT_FALSE(p.running());
  EXPECT_FALSE(fs::exists(produce()));
  EXPECT_EQ(tracker_->mutating_calls(), 0);
}

TEST_F(ProducerTest, StartAdoptsFilesTheTrackerAlreadyHas) {
  const Bytes content = seeded_bytes(3000, 5);
  write(produce() / "known.txt", content);
  tpb::FileInfo known;
  known.set_file_id(Cid::raw_sha256(as_bytes("some manifest")).to_string());
  known.set_path("known.txt");
  known.set_hash(md5_of(produce() / "known.txt"));
  known.set_status(tpb::STATUS_UPLOADED);
  tracker_->add(known);
  Producer& p = open();
  ASSERT_TRUE(p.start());
  EXPECT_TRUE(eventually([&] {
    const auto local = p.list_local();
    return local.size() == 1 && local[0].file_id == known.file_id() && local[0].status == LocalStatus::uploaded;
  }));
  EXPECT_EQ(tracker_->register_calls(), 0);
  EXPECT_EQ(tracker_->files().size(), 1u);
}

TEST_F(ProducerTest, AnInterruptedUploadResumesWhenTheDaemonComesBack) {
  Producer* p = &open();
  ASSERT_TRUE(p->start());
  write(produce() / "big.bin", seeded_bytes(80'000, 6));
  auto info = only_file();
  ASSERT_TRUE(info);
  EXPECT_TRUE(eventually([&] { return tracker_->register_calls() == 1; }));
  // The daemon goes down before the tracker says UPLOADED; a new one starts the producer again
  // and registers the file again (idempotent), still serving the encoded copy.
  p = &open();
  ASSERT_TRUE(p->was_started());
  ASSERT_TRUE(p->start());
  EXPECT_TRUE(eventually([&] { return tracker_->register_calls() == 2; }));
  EXPECT_EQ(tracker_->files().size(), 1u);
  EXPECT_TRUE(engine_has(info->file_id()));
}

TEST_F(ProducerTest, AFileDeletedWhileUploadingKeepsUploading) {
  Producer& p = open();
  ASSERT_TRUE(p.start());
  write(produce() / "doomed.bin", seeded_bytes(40'000, 7));
  auto info = only_file();
  ASSERT_TRUE(info);
  ASSERT_TRUE(eventually([&] { return !p.list_local().empty() && p.list_local()[0].status == LocalStatus::uploading; }));
  fs::remove(produce() / "doomed.bin");
  EXPECT_TRUE(eventually([&] { return p.list_local().empty(); }));
  EXPECT_TRUE(engine_has(info->file_id()));  // nothing is lost: it still goes up
  tracker_->set_status(info->file_id(), tpb::STATUS_UPLOADED);
  EXPECT_TRUE(eventually([&] { return !engine_has(info->file_id()); }));
  // And then it is forgotten locally.
  EXPECT_TRUE(eventually([&] { return load_state(home_dir() / "state" / "producer.json").value().files.empty(); }));
}

TEST_F(ProducerTest, APendingFileDeletedIsDropped) {
  Producer& p = open();
  tracker_.reset();  // unreachable: uploads fail and stay PENDING
  ASSERT_TRUE(p.start());
  write(produce() / "a.txt", as_bytes("hello"));
  ASSERT_TRUE(eventually([&] {
    const auto local = p.list_local();
    return local.size() == 1 && local[0].status == LocalStatus::pending && !local[0].error.empty();
  }));
  fs::remove(produce() / "a.txt");
  EXPECT_TRUE(eventually([&] { return p.list_local().empty(); }));
  EXPECT_TRUE(engine_->list().value().empty());
}

TEST_F(ProducerTest, DownloadWritesTheFileOnlyWhenItsMd5Matches) {
  Producer& p = open();
  const Bytes content = seeded_bytes(70'000, 8);
  ob::testing::TempDir outside, dest;
  write(outside.path() / "doc.pdf", content);
  auto id = p.upload(outside.path() / "doc.pdf", {});
  ASSERT_TRUE(id);

  ASSERT_TRUE(p.download({*id, ""}, dest.path(), /*wait=*/true));
  EXPECT_EQ(read(dest.path() / "doc.pdf"), content);
  EXPECT_TRUE(engine_has(*id));  // it was local before: kept
  fs::remove(dest.path() / "doc.pdf");
  ASSERT_TRUE(p.download({"", "/doc.pdf"}, dest.path(), /*wait=*/false));  // by remote path, in the background
  EXPECT_TRUE(eventually([&] { return read(dest.path() / "doc.pdf") == content; }));

  auto unknown = p.download({Cid::raw_sha256(as_bytes("x")).to_string(), ""}, dest.path(), true);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::not_found);
  EXPECT_EQ(unknown.error().message, "File `" + Cid::raw_sha256(as_bytes("x")).to_string() + "` not exists");
  EXPECT_EQ(p.download({"", "nope.txt"}, dest.path(), true).error().message, "File `nope.txt` not exists");
  for (const fs::path& bad : {dest.path() / "missing", fs::path("relative"), outside.path() / "doc.pdf"}) {
    auto refused = p.download({*id, ""}, bad, true);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().message.starts_with("Invalid destination")) << refused.error().message;
  }

  // A registered hash that does not match: nothing is written.
  tpb::FileInfo info = *tracker_->file(*id);
  info.set_hash("00000000000000000000000000000000");
  tracker_->add(info);
  ob::testing::TempDir other;
  auto mismatch = p.download({*id, ""}, other.path(), true);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, Errc::corrupt);
  EXPECT_TRUE(fs::is_empty(other.path()));
}

TEST_F(ProducerTest, RemoveDeletesEverywhereAndWaitsForConsumers) {
  Producer& p = open();
  ob::testing::TempDir outside;
  write(outside.path() / "a.bin", seeded_bytes(30'000, 9));
  write(outside.path() / "b.bin", seeded_bytes(30'000, 10));
  auto a = p.upload(outside.path() / "a.bin", {});
  auto b = p.upload(outside.path() / "b.bin", {});
  ASSERT_TRUE(a && b);

  ASSERT_TRUE(p.remove({*a, ""}));
  EXPECT_FALSE(tracker_->file(*a));
  EXPECT_FALSE(fs::exists(produce() / "a.bin"));
  EXPECT_FALSE(engine_has(*a));
  auto again = p.remove({*a, ""});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "File `" + *a + "` not exists");

  // Consumers that do not confirm: an error naming them, after the bounded wait.
  tracker_->set_confirm_removal(false);
  tpb::SlotHolder holder;
  holder.mutable_consumer()->set_peer_id("12D3KooWSlowConsumer");
  tracker_->set_holders(*b, {holder});
  auto slow = p.remove({"", "b.bin"});
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, Errc::io);
  EXPECT_NE(slow.error().message.find("12D3KooWSlowConsumer"), std::string::npos) << slow.error().message;
  EXPECT_FALSE(fs::exists(produce() / "b.bin"));
}

TEST_F(ProducerTest, EditIsBoundedByTheFilesParity) {
  Producer& p = open();
  ob::testing::TempDir outside;
  write(outside.path() / "e.bin", seeded_bytes(1000, 11));
  auto id = p.upload(outside.path() / "e.bin", {});  // k = 2, m = 1
  ASSERT_TRUE(id);
  const int calls = tracker_->mutating_calls();
  auto too_high = p.edit(*id, std::nullopt, 3);
  ASSERT_FALSE(too_high);
  EXPECT_EQ(too_high.error().code, Errc::invalid_argument);
  EXPECT_NE(too_high.error().message.find("at most 2"), std::string::npos);
  EXPECT_FALSE(p.edit(*id, std::nullopt, std::nullopt));
  EXPECT_FALSE(p.edit(*id, std::string("../escape"), std::nullopt));
  EXPECT_EQ(p.edit(Cid::raw_sha256(as_bytes("y")).to_string(), std::nullopt, 1).error().code, Errc::not_found);
  EXPECT_EQ(tracker_->mutating_calls(), calls);

  ASSERT_TRUE(p.edit(*id, std::string("docs/e.bin"), 1));
  EXPECT_EQ(tracker_->file(*id)->path(), "docs/e.bin");
  EXPECT_EQ(tracker_->file(*id)->availability(), 1u);
}

TEST_F(ProducerTest, ConfigMovesTheDirectoryAndRollsBackOnFailure) {
  Producer& p = open();
  write(produce() / "one.txt", as_bytes("1"));
  write(produce() / "sub" / "two.txt", as_bytes("2"));
  const NodeConfig before = config_on_disk();

  // Refused before anything changes.
  EXPECT_EQ(p.configure({.directory = "relative/dir"}).error().message, "Invalid directory");
  EXPECT_EQ(p.configure({.directory = (produce() / "one.txt").string()}).error().message, "Invalid directory");
  EXPECT_EQ(p.configure({.default_availability = 0}).error().message, "Invalid defaultAvailability");
  EXPECT_EQ(p.configure({.directory = (produce() / "sub").string()}).error().code, Errc::invalid_argument);
  // A clash in the new directory: nothing moves, the config stays.
  const fs::path clash = root_.path() / "clash";
  write(clash / "sub" / "x", as_bytes("x"));
  auto clashed = p.configure({.directory = clash.string(), .default_availability = 5});
  ASSERT_FALSE(clashed);
  EXPECT_EQ(clashed.error().code, Errc::io);
  EXPECT_TRUE(fs::exists(produce() / "one.txt"));
  EXPECT_TRUE(fs::exists(produce() / "sub" / "two.txt"));
  EXPECT_EQ(config_on_disk().to_toml(), before.to_toml());
  EXPECT_EQ(p.directory(), produce());

  // A good change: files move, config.toml says so, a new directory is created.
  const fs::path moved = root_.path() / "new" / "produce";
  ASSERT_TRUE(p.configure({.directory = moved.string(), .default_availability = 3, .start_on_startup = true}));
  EXPECT_EQ(read(moved / "one.txt"), Bytes{'1'});
  EXPECT_EQ(read(moved / "sub" / "two.txt"), Bytes{'2'});
  EXPECT_FALSE(fs::exists(produce() / "one.txt"));
  const NodeConfig after = config_on_disk();
  EXPECT_EQ(after.producer_directory, moved.string());
  EXPECT_EQ(after.default_availability, 3u);
  EXPECT_TRUE(after.producer_start_on_startup);
  EXPECT_EQ(after.consumer_limit_bytes, before.consumer_limit_bytes);
  EXPECT_EQ(p.directory(), moved);
  EXPECT_TRUE(fs::exists(systemd_user_dir().value() / "default.target.wants" / startup_unit_name(home_dir())));
  ASSERT_TRUE(p.configure({.start_on_startup = false}));
  EXPECT_FALSE(fs::exists(systemd_user_dir().value() / "default.target.wants" / startup_unit_name(home_dir())));
}

TEST_F(ProducerTest, ARunningProducerWatchesItsNewDirectory) {
  Producer& p = open();
  ASSERT_TRUE(p.start());
  const fs::path moved = root_.path() / "elsewhere";
  ASSERT_TRUE(p.configure({.directory = moved.string()}));
  EXPECT_TRUE(p.running());
  write(moved / "late.txt", as_bytes("late"));
  auto info = only_file();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->path(), "late.txt");
}

}  // namespace
}  // namespace ob::producer
