// The tracker's SQLite database: rows round-trip, constraints hold, state survives reopening,
// one tracker at a time.
#include "tracker/tracker_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "testing/test_util.h"

namespace ob::tracker {
namespace {

ConsumerRow consumer_row(const std::string& id) {
  ConsumerRow row;
  row.peer_id = id;
  row.addresses = {"127.0.0.1:4000", "[::1]:4000"};
  row.capacity = 1'000'000;
  row.used = 1000;
  row.price = 7;
  row.first_seen_ms = 10;
  row.last_seen_ms = 20;
  row.online = true;
  row.audits_passed = 3;
  row.audits_failed = 1;
  row.bytes_transferred = 5'000'000;
  row.millis_transferred = 250;
  row.online_ms = 99;
  row.account = "0x8ba1f109551bD432803012645Ac136ddd64DBA72";
  return row;
}

FileRow file_row(const std::string& id, int tier, std::int64_t created) {
  FileRow row;
  row.file_id = id;
  row.owner = "owner";
  row.manifest = ob::testing::seeded_bytes(300, 1);
  row.k = 4;
  row.m = 2;
  row.block_size = 65536;
  row.blocks_per_slot = 3;
  row.availability = 3;
  row.tier = tier;
  row.path = "/a/b.txt";
  row.size = 12345;
  row.hash = "0123456789abcdef0123456789abcdef";
  row.sources = {"127.0.0.1:5000"};
  row.created_ms = created;
  return row;
}

TEST(TrackerDb, RowsSurviveClosingAndReopening) {
  ob::testing::TempDir dir;
  const auto path = dir.path() / "tracker.db";
  {
    auto db = TrackerDb::open(path);
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE((*db)->put_consumer(consumer_row("c1")));
    ASSERT_TRUE((*db)->put_file(file_row("f1", 0, 1)));
    ASSERT_TRUE((*db)->transaction([&]() -> Result<void> {
      OB_TRY_VOID((*db)->insert_slot({"f1", 0, "c1", SlotState::stored, 42}));
      return (*db)->add_avoid("f1", "c9");
    }));
  }
  auto db = TrackerDb::open(path);
  ASSERT_TRUE(db) << db.error().message;
  auto consumer = (*db)->consumer("c1");
  ASSERT_TRUE(consumer && *consumer);
  const ConsumerRow expected = consumer_row("c1");
  EXPECT_EQ((*consumer)->addresses, expected.addresses);
  EXPECT_EQ((*consumer)->capacity, expected.capacity);
  EXPECT_EQ((*consumer)->audits_failed, 1);
  EXPECT_EQ((*consumer)->online_ms, 99);
  EXPECT_EQ((*consumer)->price, 7);
  EXPECT_EQ((*consumer)->account, expected.account);
  EXPECT_TRUE((*consumer)->online);
  auto file = (*db)->file("f1");
  ASSERT_TRUE(file && *file);
  EXPECT_EQ((*file)->manifest, ob::testing::seeded_bytes(300, 1));
  EXPECT_EQ((*file)->hash, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ((*file)->sources, std::vector<std::string>{"127.0.0.1:5000"});
  EXPECT_EQ((*file)->placed_slots(), 6u);
  auto slots = (*db)->slots_of_file("f1");
  ASSERT_TRUE(slots);
  ASSERT_EQ(slots->size(), 1u);
  EXPECT_EQ((*slots)[0].consumer, "c1");
  EXPECT_EQ((*slots)[0].state, SlotState::stored);
  EXPECT_EQ((*slots)[0].assigned_ms, 42);
  EXPECT_EQ(*(*db)->avoided("f1"), std::set<std::string>{"c9"});
  EXPECT_EQ(*(*db)->stored_online("f1"), 1u);
  auto loads = (*db)->consumer_loads();
  ASSERT_TRUE(loads);
  EXPECT_EQ((*loads)["c1"].held_bytes, 3u * (65536 + 32));
  EXPECT_EQ((*loads)["c1"].slots, 1u);
}

TEST(TrackerDb, OneConsumerNeverHoldsTwoSlotsOfAFileAndASlotHasOneRow) {
  ob::testing::TempDir dir;
  auto db = TrackerDb::open(dir.path() / "tracker.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->put_consumer(consumer_row("c1")));
  ASSERT_TRUE((*db)->put_consumer(consumer_row("c2")));
  ASSERT_TRUE((*db)->put_file(file_row("f1", 0, 1)));
  ASSERT_TRUE((*db)->insert_slot({"f1", 0, "c1", SlotState::assigned, 1}));
  auto twice = (*db)->insert_slot({"f1", 1, "c1", SlotState::assigned, 1});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Errc::already_exists);
  auto taken = (*db)->insert_slot({"f1", 0, "c2", SlotState::assigned, 1});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, Errc::already_exists);
  // A failed transaction leaves nothing behind.
  auto failed = (*db)->transaction([&]() -> Result<void> {
    OB_TRY_VOID((*db)->insert_slot({"f1", 1, "c2", SlotState::assigned, 1}));
    return (*db)->insert_slot({"f1", 2, "c2", SlotState::assigned, 1});
  });
  EXPECT_FALSE(failed);
  EXPECT_EQ((*db)->slots_of_file("f1")->size(), 1u);
  // Deleting a file takes its rows with it.
  ASSERT_TRUE((*db)->add_avoid("f1", "c2"));
  ASSERT_TRUE((*db)->delete_file("f1"));
  EXPECT_TRUE((*db)->all_slots()->empty());
  EXPECT_TRUE((*db)->avoided("f1")->empty());
  EXPECT_FALSE(*(*db)->file("f1"));
}

TEST(TrackerDb, FilesAreListedHigherTiersFirst) {
  ob::testing::TempDir dir;
  auto db = TrackerDb::open(dir.path() / "tracker.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->put_file(file_row("free-old", 0, 1)));
  ASSERT_TRUE((*db)->put_file(file_row("premium", 2, 3)));
  ASSERT_TRUE((*db)->put_file(file_row("free-new", 0, 2)));
  ASSERT_TRUE((*db)->put_file(file_row("basic", 1, 4)));
  auto files = (*db)->files();
  ASSERT_TRUE(files);
  std::vector<std::string> ids;
  for (const FileRow& f : *files) ids.push_back(f.file_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"premium", "basic", "free-old", "free-new"}));
  EXPECT_TRUE((*files)[0].manifest.empty());  // listings leave the manifest out
  EXPECT_TRUE((*db)->files("someone else")->empty());
}

TEST(TrackerDb, ASecondTrackerOnTheSameFileIsRefused) {
  ob::testing::TempDir dir;
  auto first = TrackerDb::open(dir.path() / "tracker.db");
  ASSERT_TRUE(first) << first.error().message;
  auto second = TrackerDb::open(dir.path() / "tracker.db");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::io);
  EXPECT_NE(second.error().message.find("another tracker"), std::string::npos) << second.error().message;
  first->reset();
  EXPECT_TRUE(TrackerDb::open(dir.path() / "tracker.db"));
}

// A tracker.db as the first release wrote it (schema version 1), with one stored slot.
constexpr const char* kVersion1File = R"sql(
CREATE TABLE consumers(peer_id TEXT PRIMARY KEY, addresses TEXT NOT NULL, capacity INTEGER NOT NULL,
  used INTEGER NOT NULL, price INTEGER NOT NULL, first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
  online INTEGER NOT NULL, audits_passed INTEGER NOT NULL, audits_failed INTEGER NOT NULL,
  bytes_transferred INTEGER NOT NULL, millis_transferred INTEGER NOT NULL, online_ms INTEGER NOT NULL);
CREATE TABLE files(file_id TEXT PRIMARY KEY, owner TEXT NOT NULL, manifest BLOB NOT NULL, k INTEGER NOT NULL,
  m INTEGER NOT NULL, block_size INTEGER NOT NULL, blocks_per_slot INTEGER NOT NULL, availability INTEGER NOT NULL,
  tier INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, hash TEXT NOT NULL, sources TEXT NOT NULL,
  uploaded_once INTEGER NOT NULL, removing INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE INDEX files_owner ON files(owner);
CREATE TABLE slots(file_id TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE, slot INTEGER NOT NULL,
  consumer TEXT NOT NULL REFERENCES consumers(peer_id), state INTEGER NOT NULL, assigned_ms INTEGER NOT NULL,
  PRIMARY KEY(file_id, slot), UNIQUE(file_id, consumer));
CREATE INDEX slots_consumer ON slots(consumer);
CREATE TABLE avoid(file_id TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE, consumer TEXT NOT NULL,
  PRIMARY KEY(file_id, consumer));
INSERT INTO consumers VALUES('c1', '127.0.0.1:4000', 1000000, 1000, 0, 10, 20, 1, 3, 1, 5, 2, 99);
INSERT INTO files VALUES('f1', 'owner', x'00', 1, 1, 65536, 3, 1, 0, '/a', 1, '', '', 1, 0, 5);
INSERT INTO slots VALUES('f1', 0, 'c1', 1, 42);
PRAGMA user_version=1;
)sql";

TEST(TrackerDb, AVersion1DatabaseIsMigratedInPlace) {
  ob::testing::TempDir dir;
  const auto path = dir.path() / "tracker.db";
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, kVersion1File, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }
  {
    auto db = TrackerDb::open(path);
    ASSERT_TRUE(db) << db.error().message;
    // The stored slot stays stored (no file loses its availability at the upgrade) and is due
    // for a challenge at once.
    auto slots = (*db)->slots_of_file("f1");
    ASSERT_TRUE(slots);
    ASSERT_EQ(slots->size(), 1u);
    EXPECT_EQ((*slots)[0].state, SlotState::stored);
    EXPECT_EQ((*slots)[0].assigned_ms, 42);
    EXPECT_EQ((*slots)[0].next_check_ms, 0);
    EXPECT_EQ((*slots)[0].unanswered_since_ms, 0);
    auto due = (*db)->due_slots(1000, 10);
    ASSERT_TRUE(due);
    EXPECT_EQ(due->size(), 1u);
    auto consumer = (*db)->consumer("c1");
    ASSERT_TRUE(consumer && *consumer);
    EXPECT_EQ((*consumer)->audits_passed, 3);
    EXPECT_EQ((*consumer)->free_reported, -1);  // not said: capacity - used
    EXPECT_EQ((*consumer)->free_said(), 1'000'000 - 1000);
    EXPECT_EQ((*consumer)->no_space_free, -1);
    EXPECT_FALSE((*consumer)->needs_reconcile);
    EXPECT_EQ((*consumer)->account, "");  // none until it registers with one
    EXPECT_EQ((*consumer)->price, 0);
    // The new table works.
    ASSERT_TRUE((*db)->add_discard("f1", 0, "c1"));
    EXPECT_EQ((*(*db)->discarding("f1")), std::set<std::string>{"c1"});
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), TrackerDb::kSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  // And it opens again as it is.
  EXPECT_TRUE(TrackerDb::open(path));
}

TEST(TrackerDb, ChallengesAreDueVerifyingFirstThenLongestDue) {
  ob::testing::TempDir dir;
  auto db = TrackerDb::open(dir.path() / "tracker.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->put_consumer(consumer_row("c1")));
  ConsumerRow offline = consumer_row("c2");
  offline.online = false;
  ASSERT_TRUE((*db)->put_consumer(offline));
  for (const char* f : {"f1", "f2", "f3", "f4"}) ASSERT_TRUE((*db)->put_file(file_row(f, 0, 1)));
  SlotRow late = placed("f1", 0, "c1", 1);
  late.state = SlotState::stored;
  late.next_check_ms = 500;
  SlotRow early = placed("f2", 0, "c1", 1);
  early.state = SlotState::stored;
  early.next_check_ms = 100;
  SlotRow later = placed("f3", 0, "c1", 1);
  later.state = SlotState::stored;
  later.next_check_ms = 5000;  // not due at 1000
  const SlotRow fresh = adopted("f4", 0, "c1", 900);
  SlotRow elsewhere = placed("f1", 1, "c2", 1);  // offline: not challenged
  elsewhere.state = SlotState::stored;
  for (const SlotRow& row : {late, early, later, fresh, elsewhere}) ASSERT_TRUE((*db)->insert_slot(row));
  auto due = (*db)->due_slots(1000, 10);
  ASSERT_TRUE(due);
  std::vector<std::string> order;
  for (const SlotRow& row : *due) order.push_back(row.file_id);
  EXPECT_EQ(order, (std::vector<std::string>{"f4", "f2", "f1"}));
  due = (*db)->due_slots(1000, 2);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->size(), 2u);
  // A restart: owed answers are owed from now, and no stored slot waits past one interval.
  ASSERT_TRUE((*db)->restart_challenges(10'000, 1000));
  auto rows = (*db)->slots_of_file("f4");
  ASSERT_TRUE(rows);
  EXPECT_EQ((*rows)[0].unanswered_since_ms, 10'000);
  rows = (*db)->slots_of_file("f3");
  EXPECT_EQ((*rows)[0].next_check_ms, 5000);  // already sooner
  SlotRow far = placed("f2", 1, "c2", 1);
  far.state = SlotState::stored;
  far.next_check_ms = 1'000'000;
  ASSERT_TRUE((*db)->insert_slot(far));
  ASSERT_TRUE((*db)->restart_challenges(10'000, 1000));
  rows = (*db)->slots_of_file("f2");
  EXPECT_EQ((*rows)[1].next_check_ms, 11'000);
}

TEST(TrackerDb, RefusesANewerSchemaAndForeignDatabases) {
  ob::testing::TempDir dir;
  const auto newer = dir.path() / "newer.db";
  const auto foreign = dir.path() / "foreign.db";
  for (const auto& [path, sql] : {std::pair{newer, "PRAGMA user_version=99"},
                                  std::pair{foreign, "CREATE TABLE t(x)"}}) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  auto a = TrackerDb::open(newer);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::corrupt);
  EXPECT_NE(a.error().message.find("schema version 99"), std::string::npos) << a.error().message;
  auto b = TrackerDb::open(foreign);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::corrupt);
}

}  // namespace
}  // namespace ob::tracker
