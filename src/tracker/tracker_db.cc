#include "tracker/tracker_db.h"

#include <sqlite3.h>

#include <iterator>
#include <string_view>

namespace ob::tracker {
namespace {

// Version 1, as the first trackers created it; newer versions are migrations from it, so that a
// new file and a migrated one have the same schema.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE consumers(
  peer_id TEXT PRIMARY KEY,
  addresses TEXT NOT NULL,
  capacity INTEGER NOT NULL,
  used INTEGER NOT NULL,
  price INTEGER NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  online INTEGER NOT NULL,
  audits_passed INTEGER NOT NULL,
  audits_failed INTEGER NOT NULL,
  bytes_transferred INTEGER NOT NULL,
  millis_transferred INTEGER NOT NULL,
  online_ms INTEGER NOT NULL
);
CREATE TABLE files(
  file_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  manifest BLOB NOT NULL,
  k INTEGER NOT NULL,
  m INTEGER NOT NULL,
  block_size INTEGER NOT NULL,
  blocks_per_slot INTEGER NOT NULL,
  availability INTEGER NOT NULL,
  tier INTEGER NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  hash TEXT NOT NULL,
  sources TEXT NOT NULL,
  uploaded_once INTEGER NOT NULL,
  removing INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX files_owner ON files(owner);
CREATE TABLE slots(
  file_id TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE,
  slot INTEGER NOT NULL,
  consumer TEXT NOT NULL REFERENCES consumers(peer_id),
  state INTEGER NOT NULL,
  assigned_ms INTEGER NOT NULL,
  PRIMARY KEY(file_id, slot),
  UNIQUE(file_id, consumer)
);
CREATE INDEX slots_consumer ON slots(consumer);
CREATE TABLE avoid(
  file_id TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE,
  consumer TEXT NOT NULL,
  PRIMARY KEY(file_id, consumer)
);
)sql";

/// Migrations: kMigrations[i] takes version i + 1 to version i + 2.
constexpr const char* kMigrations[] = {
    // 1 -> 2: slots count only once the tracker proved them (state 3 = verifying); challenges
    // are scheduled per slot; consumers report free space; slots to delete outside any row.
    // Existing stored rows stay stored with next_check_ms 0: they are challenged first.
    R"sql(
ALTER TABLE slots ADD COLUMN next_check_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE slots ADD COLUMN unanswered_since_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX slots_next_check ON slots(next_check_ms);
ALTER TABLE consumers ADD COLUMN free_reported INTEGER NOT NULL DEFAULT -1;
ALTER TABLE consumers ADD COLUMN no_space_free INTEGER NOT NULL DEFAULT -1;
ALTER TABLE consumers ADD COLUMN needs_reconcile INTEGER NOT NULL DEFAULT 0;
CREATE TABLE discards(
  file_id TEXT NOT NULL,
  slot INTEGER NOT NULL,
  consumer TEXT NOT NULL,
  PRIMARY KEY(file_id, slot, consumer)
);
CREATE INDEX discards_consumer ON discards(consumer);
)sql",
    // 2 -> 3: a consumer's wallet account for the paid tiers; `price` is now wei per byte-second
    // (no consumer ever sent the old per GB-month figure: every stored one is 0).
    R"sql(
ALTER TABLE consumers ADD COLUMN account TEXT NOT NULL DEFAULT '';
)sql",
    // 3 -> 4: a paid-tier file's storage request on chain and its price (none before: Free).
    R"sql(
ALTER TABLE files ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN price INTEGER NOT NULL DEFAULT 0;
)sql",
    // 4 -> 5: producers' file index records (issue 13), one per locator.
    R"sql(
CREATE TABLE index_records(
  locator BLOB PRIMARY KEY,
  owner TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  record BLOB NOT NULL
);
)sql",
};
static_assert(std::size(kMigrations) + 1 == TrackerDb::kSchemaVersion, "one migration per version after 1");

/// Lists are stored one entry a line: entries are validated to hold no control characters.
std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += '\n';
    out += item;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

Error sqlite_error(sqlite3* db, std::string_view what) {
  return Error{Errc::io, std::string("tracker database: ") + std::string(what) + ": " + sqlite3_errmsg(db)};
}

}  // namespace

/// A borrowed prepared statement, reset (and its bindings cleared) when it goes out of scope.
class TrackerDb::Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& bind(int index, std::uint64_t value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::uint32_t value) { return bind(index, std::int64_t{value}); }
  Statement& bind(int index, int value) { return bind(index, std::int64_t{value}); }
  Statement& bind(int index, bool value) { return bind(index, std::int64_t{value ? 1 : 0}); }
  Statement& bind(int index, std::string_view text) {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    return *this;
  }
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, ByteView blob) {
    // A zero-length blob must still be a blob, not NULL: bind a non-null pointer.
    static const std::uint8_t empty = 0;
    sqlite3_bind_blob64(stmt_, index, blob.empty() ? &empty : blob.data(), blob.size(), SQLITE_TRANSIENT);
    return *this;
  }

  /// One step: true when a row is available, false when done. Errors (io, already_exists on
  /// a UNIQUE or PRIMARY KEY conflict).
  Result<bool> step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // Extended result codes are on: step() returns e.g. SQLITE_CONSTRAINT_UNIQUE itself.
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      const int extended = sqlite3_extended_errcode(db_);
      if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return fail(Errc::already_exists, "tracker database: ", sqlite3_errmsg(db_));
      }
    }
    return std::unexpected(sqlite_error(db_, "step"));
  }
  /// Runs a statement that returns no rows.
  Result<void> run() {
    OB_TRY(bool row, step());
    (void)row;
    return {};
  }

  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::uint64_t uint64(int column) const {
    const std::int64_t v = int64(column);
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
  }
  std::uint32_t uint32(int column) const {
    const std::int64_t v = int64(column);
    return v < 0 || v > 0xffffffffLL ? 0 : static_cast<std::uint32_t>(v);
  }
  std::string text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(size));
  }
  Bytes blob(int column) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return p == nullptr ? Bytes() : Bytes(p, p + size);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

Result<std::unique_ptr<TrackerDb>> TrackerDb::open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return fail(Errc::io, "cannot open the tracker database ", path.string(), ": ", message);
  }
  std::unique_ptr<TrackerDb> db(new TrackerDb(raw));
  sqlite3_extended_result_codes(raw, 1);
  // Exclusive locking: the first write takes the lock and keeps it until close, so that a
  // second tracker on this file fails here instead of both running placement and repair.
  OB_TRY_VOID(db->exec("PRAGMA locking_mode=EXCLUSIVE"));
  auto wal = db->exec("PRAGMA journal_mode=WAL");
  if (!wal) {
    if ((sqlite3_errcode(raw) & 0xff) == SQLITE_BUSY) {
      return fail(Errc::io, "another tracker uses the database ", path.string());
    }
    return fail(Errc::corrupt, "cannot open the tracker database ", path.string(), ": ", wal.error().message);
  }
  OB_TRY_VOID(db->exec("PRAGMA synchronous=FULL"));
  OB_TRY_VOID(db->exec("PRAGMA foreign_keys=ON"));
  if (auto ok = db->migrate(); !ok) {
    if ((sqlite3_errcode(raw) & 0xff) == SQLITE_BUSY) {
      return fail(Errc::io, "another tracker uses the database ", path.string());
    }
    return std::unexpected(prefixed(ok.error(), path.string()));
  }
  return db;
}

TrackerDb::~TrackerDb() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Result<void> TrackerDb::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return fail(Errc::io, "tracker database: ", text);
  }
  return {};
}

Result<std::int64_t> TrackerDb::user_version() {
  // Not a cached statement: its result must be read afresh after a migration changed it.
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &raw, nullptr) != SQLITE_OK) {
    return std::unexpected(sqlite_error(db_, "prepare"));
  }
  const int rc = sqlite3_step(raw);
  const std::int64_t version = rc == SQLITE_ROW ? sqlite3_column_int64(raw, 0) : 0;
  sqlite3_finalize(raw);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return std::unexpected(sqlite_error(db_, "PRAGMA user_version"));
  return version;
}

Result<void> TrackerDb::migrate() {
  // BEGIN IMMEDIATE takes the file lock now (and keeps it: locking_mode=EXCLUSIVE); a migration
  // is all or nothing.
  return transaction([&]() -> Result<void> {
    OB_TRY(std::int64_t version, user_version());
    if (version == kSchemaVersion) return {};
    if (version > kSchemaVersion) {
      return fail(Errc::corrupt, "the tracker database has schema version ", version, "; this tracker knows ",
                  kSchemaVersion, " (a newer tracker wrote it)");
    }
    if (version == 0) {
      // A new file, or one that is not ours.
      OB_TRY(Statement tables, prepare("SELECT count(*) FROM sqlite_master"));
      OB_TRY(bool counted, tables.step());
      if (counted && tables.int64(0) != 0) return fail(Errc::corrupt, "not a tracker database (unknown tables)");
      OB_TRY_VOID(exec(kSchemaV1));
      version = 1;
    }
    for (; version < kSchemaVersion; ++version) {
      OB_TRY_VOID(exec(kMigrations[version - 1]));
    }
    // PRAGMA takes no bound parameters; the value is our own constant.
    const std::string set_version = "PRAGMA user_version=" + std::to_string(kSchemaVersion);
    return exec(set_version.c_str());
  });
}

Result<TrackerDb::Statement> TrackerDb::prepare(const char* sql) {
  auto it = statements_.find(std::string_view(sql));
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return std::unexpected(sqlite_error(db_, "prepare"));
    }
    it = statements_.emplace(sql, stmt).first;
  }
  return Statement(db_, it->second);
}

Result<void> TrackerDb::transaction(const std::function<Result<void>()>& body) {
  OB_TRY_VOID(exec("BEGIN IMMEDIATE"));
  Result<void> result = body();
  if (result) {
    if (auto committed = exec("COMMIT"); !committed) result = std::unexpected(committed.error());
  }
  if (!result && sqlite3_get_autocommit(db_) == 0) (void)exec("ROLLBACK");
  return result;
}

// --- consumers ---------------------------------------------------------------------------------

namespace {
constexpr const char* kConsumerColumns =
    "peer_id, addresses, capacity, used, price, first_seen_ms, last_seen_ms, online, audits_passed, "
    "audits_failed, bytes_transferred, millis_transferred, online_ms, free_reported, no_space_free, needs_reconcile, "
    "account";
}  // namespace

Result<void> TrackerDb::put_consumer(const ConsumerRow& row) {
  OB_TRY(Statement s, prepare(
                          "INSERT INTO consumers(peer_id, addresses, capacity, used, price, first_seen_ms, "
                          "last_seen_ms, online, audits_passed, audits_failed, bytes_transferred, millis_transferred, "
                          "online_ms, free_reported, no_space_free, needs_reconcile, account) "
                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) "
                          "ON CONFLICT(peer_id) DO UPDATE SET addresses = ?2, capacity = ?3, used = ?4, price = ?5, "
                          "first_seen_ms = ?6, last_seen_ms = ?7, online = ?8, audits_passed = ?9, "
                          "audits_failed = ?10, "
                          "bytes_transferred = ?11, millis_transferred = ?12, online_ms = ?13, free_reported = ?14, "
                          "no_space_free = ?15, needs_reconcile = ?16, account = ?17"));
  s.bind(1, row.peer_id).bind(2, join_lines(row.addresses)).bind(3, row.capacity).bind(4, row.used);
  s.bind(5, row.price).bind(6, row.first_seen_ms).bind(7, row.last_seen_ms).bind(8, row.online);
  s.bind(9, row.audits_passed).bind(10, row.audits_failed).bind(11, row.bytes_transferred);
  s.bind(12, row.millis_transferred).bind(13, row.online_ms).bind(14, row.free_reported);
  s.bind(15, row.no_space_free).bind(16, row.needs_reconcile).bind(17, row.account);
  return s.run();
}

namespace {
template <typename S>
ConsumerRow read_consumer(const S& s) {
  ConsumerRow row;
  row.peer_id = s.text(0);
  row.addresses = split_lines(s.text(1));
  row.capacity = s.int64(2);
  row.used = s.int64(3);
  row.price = s.int64(4);
  row.first_seen_ms = s.int64(5);
  row.last_seen_ms = s.int64(6);
  row.online = s.int64(7) != 0;
  row.audits_passed = s.int64(8);
  row.audits_failed = s.int64(9);
  row.bytes_transferred = s.int64(10);
  row.millis_transferred = s.int64(11);
  row.online_ms = s.int64(12);
  row.free_reported = s.int64(13);
  row.no_space_free = s.int64(14);
  row.needs_reconcile = s.int64(15) != 0;
  row.account = s.text(16);
  return row;
}
}  // namespace

Result<std::optional<ConsumerRow>> TrackerDb::consumer(const std::string& peer_id) {
  static const std::string sql = std::string("SELECT ") + kConsumerColumns + " FROM consumers WHERE peer_id = ?1";
  OB_TRY(Statement s, prepare(sql.c_str()));
  s.bind(1, peer_id);
  OB_TRY(bool row, s.step());
  if (!row) return std::optional<ConsumerRow>();
  return std::optional<ConsumerRow>(read_consumer(s));
}

Result<std::vector<ConsumerRow>> TrackerDb::consumers() {
  static const std::string sql = std::string("SELECT ") + kConsumerColumns + " FROM consumers ORDER BY peer_id";
  OB_TRY(Statement s, prepare(sql.c_str()));
  std::vector<ConsumerRow> out;
  for (;;) {
    OB_TRY(bool row, s.step());
    if (!row) break;
    out.push_back(read_consumer(s));
  }
  return out;
}

Result<void> TrackerDb::touch_online_consumers(std::int64_t now_ms) {
  OB_TRY(Statement s, prepare("UPDATE consumers SET last_seen_ms = ?1 WHERE online = 1"));
  s.bind(1, now_ms);
  return s.run();
}

// --- files -------------------------------------------------------------------------------------

Result<void> TrackerDb::put_file(const FileRow& row) {
  OB_TRY(Statement s, prepare(
                          "INSERT INTO files(file_id, owner, manifest, k, m, block_size, blocks_per_slot, "
                          "availability, "
                          "tier, path, size, hash, sources, uploaded_once, removing, created_ms, request_id, price) "
                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) "
                          "ON CONFLICT(file_id) DO UPDATE SET owner = ?2, manifest = ?3, k = ?4, m = ?5, "
                          "block_size = ?6, blocks_per_slot = ?7, availability = ?8, tier = ?9, path = ?10, "
                          "size = ?11, "
                          "hash = ?12, sources = ?13, uploaded_once = ?14, removing = ?15, created_ms = ?16, "
                          "request_id = ?17, price = ?18"));
  s.bind(1, row.file_id).bind(2, row.owner).bind(3, ByteView(row.manifest)).bind(4, row.k).bind(5, row.m);
  s.bind(6, row.block_size).bind(7, row.blocks_per_slot).bind(8, row.availability).bind(9, row.tier);
  s.bind(10, row.path).bind(11, row.size).bind(12, row.hash).bind(13, join_lines(row.sources));
  s.bind(14, row.uploaded_once).bind(15, row.removing).bind(16, row.created_ms);
  s.bind(17, row.request_id).bind(18, row.price);
  return s.run();
}

namespace {
/// Columns 0..16 of a file row; the manifest, when selected, is column 17.
constexpr const char* kFileColumns =
    "file_id, owner, k, m, block_size, blocks_per_slot, availability, tier, path, size, hash, sources, "
    "uploaded_once, removing, created_ms, request_id, price";

template <typename S>
FileRow read_file_row(const S& s) {
  FileRow row;
  row.file_id = s.text(0);
  row.owner = s.text(1);
  row.k = s.uint32(2);
  row.m = s.uint32(3);
  row.block_size = s.uint32(4);
  row.blocks_per_slot = s.uint64(5);
  row.availability = s.uint32(6);
  row.tier = static_cast<int>(s.int64(7));
  row.path = s.text(8);
  row.size = s.uint64(9);
  row.hash = s.text(10);
  row.sources = split_lines(s.text(11));
  row.uploaded_once = s.int64(12) != 0;
  row.removing = s.int64(13) != 0;
  row.created_ms = s.int64(14);
  row.request_id = s.text(15);
  row.price = s.int64(16);
  return row;
}
}  // namespace

Result<std::optional<FileRow>> TrackerDb::file(const std::string& file_id) {
  static const std::string sql = std::string("SELECT ") + kFileColumns + ", manifest FROM files WHERE file_id = ?1";
  OB_TRY(Statement s, prepare(sql.c_str()));
  s.bind(1, file_id);
  OB_TRY(bool row, s.step());
  if (!row) return std::optional<FileRow>();
  FileRow file = read_file_row(s);
  file.manifest = s.blob(17);
  return std::optional<FileRow>(std::move(file));
}

Result<std::vector<FileRow>> TrackerDb::files(const std::string& owner) {
  static const std::string all = std::string("SELECT ") + kFileColumns +
                                 " FROM files ORDER BY tier DESC, created_ms, file_id";
  static const std::string mine = std::string("SELECT ") + kFileColumns +
                                  " FROM files WHERE owner = ?1 ORDER BY tier DESC, created_ms, file_id";
  OB_TRY(Statement s, prepare(owner.empty() ? all.c_str() : mine.c_str()));
  if (!owner.empty()) s.bind(1, owner);
  std::vector<FileRow> out;
  for (;;) {
    OB_TRY(bool row, s.step());
    if (!row) break;
    out.push_back(read_file_row(s));
  }
  return out;
}

Result<void> TrackerDb::delete_file(const std::string& file_id) {
  // slots and avoid rows go with it (ON DELETE CASCADE).
  OB_TRY(Statement s, prepare("DELETE FROM files WHERE file_id = ?1"));
  s.bind(1, file_id);
  return s.run();
}

// --- file index records ------------------------------------------------------------------------

Result<std::optional<IndexRecordRow>> TrackerDb::index_record(ByteView locator) {
  OB_TRY(Statement s, prepare("SELECT owner, sequence, record FROM index_records WHERE locator = ?1"));
  s.bind(1, locator);
  OB_TRY(bool row, s.step());
  if (!row) return std::optional<IndexRecordRow>();
  return std::optional<IndexRecordRow>(IndexRecordRow{Bytes(locator.begin(), locator.end()), s.text(0), s.uint64(1), s.blob(2)});
}

Result<void> TrackerDb::put_index_record(const IndexRecordRow& row) {
  OB_TRY(Statement s, prepare("INSERT OR REPLACE INTO index_records(locator, owner, sequence, record) VALUES (?1, ?2, ?3, ?4)"));
  s.bind(1, ByteView(row.locator)).bind(2, row.owner).bind(3, row.sequence).bind(4, ByteView(row.record));
  return s.run();
}

// --- slots -------------------------------------------------------------------------------------

namespace {
constexpr const char* kSlotColumns = "file_id, slot, consumer, state, assigned_ms, next_check_ms, unanswered_since_ms";

template <typename S>
SlotRow read_slot(const S& s) {
  SlotRow row;
  row.file_id = s.text(0);
  row.slot = s.uint32(1);
  row.consumer = s.text(2);
  switch (s.int64(3)) {
    case static_cast<int>(SlotState::stored): row.state = SlotState::stored; break;
    case static_cast<int>(SlotState::deleting): row.state = SlotState::deleting; break;
    case static_cast<int>(SlotState::verifying): row.state = SlotState::verifying; break;
    default: row.state = SlotState::assigned; break;
  }
  row.assigned_ms = s.int64(4);
  row.next_check_ms = s.int64(5);
  row.unanswered_since_ms = s.int64(6);
  return row;
}

template <typename S>
Result<std::vector<SlotRow>> read_slots(S& s) {
  std::vector<SlotRow> out;
  for (;;) {
    OB_TRY(bool row, s.step());
    if (!row) break;
    out.push_back(read_slot(s));
  }
  return out;
}
}  // namespace

Result<std::vector<SlotRow>> TrackerDb::slots_of_file(const std::string& file_id) {
  static const std::string sql = std::string("SELECT ") + kSlotColumns + " FROM slots WHERE file_id = ?1 ORDER BY slot";
  OB_TRY(Statement s, prepare(sql.c_str()));
  s.bind(1, file_id);
  return read_slots(s);
}

Result<std::vector<SlotRow>> TrackerDb::slots_of_consumer(const std::string& peer_id) {
  static const std::string sql =
      std::string("SELECT ") + kSlotColumns + " FROM slots WHERE consumer = ?1 ORDER BY file_id, slot";
  OB_TRY(Statement s, prepare(sql.c_str()));
  s.bind(1, peer_id);
  return read_slots(s);
}

Result<std::vector<SlotRow>> TrackerDb::all_slots() {
  static const std::string sql = std::string("SELECT ") + kSlotColumns + " FROM slots ORDER BY file_id, slot";
  OB_TRY(Statement s, prepare(sql.c_str()));
  return read_slots(s);
}

Result<void> TrackerDb::insert_slot(const SlotRow& row) {
  OB_TRY(Statement s, prepare("INSERT INTO slots(file_id, slot, consumer, state, assigned_ms, next_check_ms, "
                              "unanswered_since_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  s.bind(1, row.file_id).bind(2, row.slot).bind(3, row.consumer).bind(4, static_cast<int>(row.state));
  s.bind(5, row.assigned_ms).bind(6, row.next_check_ms).bind(7, row.unanswered_since_ms);
  return s.run();
}

Result<void> TrackerDb::update_slot(const SlotRow& row) {
  OB_TRY(Statement s, prepare("UPDATE slots SET state = ?3, next_check_ms = ?4, unanswered_since_ms = ?5 "
                              "WHERE file_id = ?1 AND slot = ?2"));
  s.bind(1, row.file_id).bind(2, row.slot).bind(3, static_cast<int>(row.state)).bind(4, row.next_check_ms);
  s.bind(5, row.unanswered_since_ms);
  return s.run();
}

Result<void> TrackerDb::delete_slot(const std::string& file_id, std::uint32_t slot) {
  OB_TRY(Statement s, prepare("DELETE FROM slots WHERE file_id = ?1 AND slot = ?2"));
  s.bind(1, file_id).bind(2, slot);
  return s.run();
}

Result<std::uint32_t> TrackerDb::stored_online(const std::string& file_id) {
  OB_TRY(Statement s, prepare("SELECT count(*) FROM slots JOIN consumers ON consumers.peer_id = slots.consumer "
                              "WHERE slots.file_id = ?1 AND slots.state = 1 AND consumers.online = 1"));
  s.bind(1, file_id);
  OB_TRY(bool row, s.step());
  return row ? s.uint32(0) : 0;
}

Result<std::map<std::string, ConsumerLoad>> TrackerDb::consumer_loads() {
  OB_TRY(Statement s, prepare("SELECT slots.consumer, slots.state, "
                              "SUM(files.blocks_per_slot * (files.block_size + 32)), COUNT(*) "
                              "FROM slots JOIN files ON files.file_id = slots.file_id "
                              "GROUP BY slots.consumer, slots.state"));
  std::map<std::string, ConsumerLoad> out;
  for (;;) {
    OB_TRY(bool row, s.step());
    if (!row) break;
    ConsumerLoad& load = out[s.text(0)];
    (s.int64(1) == static_cast<int>(SlotState::assigned) ? load.assigned_bytes : load.held_bytes) += s.uint64(2);
    load.slots += s.uint32(3);
  }
  return out;
}

Result<std::vector<SlotRow>> TrackerDb::due_slots(std::int64_t now_ms, std::uint32_t limit) {
  OB_TRY(Statement s, prepare("SELECT slots.file_id, slots.slot, slots.consumer, slots.state, slots.assigned_ms, "
                              "slots.next_check_ms, slots.unanswered_since_ms FROM slots "
                              "JOIN consumers ON consumers.peer_id = slots.consumer "
                              "WHERE slots.state IN (1, 3) AND slots.next_check_ms <= ?1 AND consumers.online = 1 "
                              "ORDER BY slots.state = 3 DESC, slots.next_check_ms, slots.file_id, slots.slot "
                              "LIMIT ?2"));
  s.bind(1, now_ms).bind(2, limit);
  return read_slots(s);
}

Result<void> TrackerDb::restart_challenges(std::int64_t now_ms, std::int64_t audit_interval_ms) {
  OB_TRY(Statement owed, prepare("UPDATE slots SET unanswered_since_ms = ?1 WHERE unanswered_since_ms != 0"));
  owed.bind(1, now_ms);
  OB_TRY_VOID(owed.run());
  if (audit_interval_ms <= 0) return {};
  OB_TRY(Statement soon, prepare("UPDATE slots SET next_check_ms = ?1 WHERE state = 1 AND next_check_ms > ?1"));
  soon.bind(1, now_ms + audit_interval_ms);
  return soon.run();
}

Result<void> TrackerDb::add_avoid(const std::string& file_id, const std::string& consumer) {
  OB_TRY(Statement s, prepare("INSERT OR IGNORE INTO avoid(file_id, consumer) VALUES(?1, ?2)"));
  s.bind(1, file_id).bind(2, consumer);
  return s.run();
}

namespace {
template <typename S>
Result<std::set<std::string>> read_texts(S& s) {
  std::set<std::string> out;
  for (;;) {
    OB_TRY(bool row, s.step());
    if (!row) break;
    out.insert(s.text(0));
  }
  return out;
}
}  // namespace

Result<std::set<std::string>> TrackerDb::avoided(const std::string& file_id) {
  OB_TRY(Statement s, prepare("SELECT consumer FROM avoid WHERE file_id = ?1"));
  s.bind(1, file_id);
  return read_texts(s);
}

// --- discards ----------------------------------------------------------------------------------

Result<void> TrackerDb::add_discard(const std::string& file_id, std::uint32_t slot, const std::string& consumer) {
  OB_TRY(Statement s, prepare("INSERT OR IGNORE INTO discards(file_id, slot, consumer) VALUES(?1, ?2, ?3)"));
  s.bind(1, file_id).bind(2, slot).bind(3, consumer);
  return s.run();
}

Result<void> TrackerDb::delete_discard(const std::string& file_id, std::uint32_t slot, const std::string& consumer) {
  OB_TRY(Statement s, prepare("DELETE FROM discards WHERE file_id = ?1 AND slot = ?2 AND consumer = ?3"));
  s.bind(1, file_id).bind(2, slot).bind(3, consumer);
  return s.run();
}

Result<void> TrackerDb::delete_discards_of(const std::string& consumer) {
  OB_TRY(Statement s, prepare("DELETE FROM discards WHERE consumer = ?1"));
  s.bind(1, consumer);
  return s.run();
}

Result<std::vector<std::pair<std::string, std::uint32_t>>> TrackerDb::discards_of(const std::string& consumer) {
  OB_TRY(Statement s, prepare("SELECT file_id, slot FROM discards WHERE consumer = ?1 ORDER BY file_id, slot"));
  s.bind(1, consumer);
  std::vector<std::pair<std::string, std::uint32_t>> out;
  for (;;) {
    OB_TRY(bool row, s.step());
    if (!row) break;
    out.emplace_back(s.text(0), s.uint32(1));
  }
  return out;
}

Result<std::set<std::string>> TrackerDb::discarding(const std::string& file_id) {
  OB_TRY(Statement s, prepare("SELECT DISTINCT consumer FROM discards WHERE file_id = ?1"));
  s.bind(1, file_id);
  return read_texts(s);
}

}  // namespace ob::tracker
