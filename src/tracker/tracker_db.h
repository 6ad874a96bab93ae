// The tracker's database (docs/tracker.md "Database"): consumers, files and slot assignments in
// SQLite. WAL journal with synchronous=FULL (a change is on disk when its call returns), foreign
// keys on, the schema versioned with PRAGMA user_version, every statement prepared once with
// bound parameters, every multi-row change inside transaction(). The database is opened in
// exclusive locking mode: a second tracker on the same file is refused at open.
//
// Times are Unix milliseconds. Byte counts are stored as SQLite INTEGER (signed 64 bits); the
// service refuses larger values before they get here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "tracker/slot_lifecycle.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ob::tracker {

/// A consumer as the tracker knows it (table `consumers`).
struct ConsumerRow {
  std::string peer_id;                 ///< "12D3KooW..."
  std::vector<std::string> addresses;  ///< BlockExchange "host:port", as last registered
  std::int64_t capacity = 0;           ///< bytes the consumer offers
  std::int64_t used = 0;               ///< bytes it reports using
  /// The price it asks for paid-tier slots: wei per byte of slot per second (the market's
  /// pricePerByteSecond); 0: Free-tier slots only.
  std::int64_t price = 0;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  bool online = false;
  std::int64_t audits_passed = 0;
  std::int64_t audits_failed = 0;
  std::int64_t bytes_transferred = 0;   ///< sum of SlotReport.bytes of STORED reports
  std::int64_t millis_transferred = 0;  ///< sum of SlotReport.millis of the same reports
  std::int64_t online_ms = 0;           ///< time seen online, for the uptime ratio
  /// Free bytes it last reported: the smaller of its limit less its use and its file system's
  /// free space; -1 when it did not say (then capacity - used is all we know).
  std::int64_t free_reported = -1;
  /// -1, or the free bytes it had when it refused a STORE for want of space: it gets no new
  /// slot until it reports more than this (lowered as it reports less meanwhile).
  std::int64_t no_space_free = -1;
  /// It lost its rows (went offline) or reported a slot it does not hold: every heartbeat asks
  /// it to list its slots until a listing (ReconcileSlots) arrives.
  bool needs_reconcile = false;
  /// The wallet account (EIP-55) it fills paid-tier slots from and is paid to; "" = none.
  std::string account;

  /// The free bytes it says it has: free_reported, or capacity - used when it did not say.
  std::int64_t free_said() const noexcept {
    if (free_reported >= 0) return free_reported;
    return capacity > used ? capacity - used : 0;
  }
};

/// A registered file (table `files`).
struct FileRow {
  std::string file_id;  ///< the manifest's CID, base32
  std::string owner;    ///< peer ID of the producer that registered it
  Bytes manifest;       ///< the encoded manifest (empty when listed without it)
  std::uint32_t k = 0;
  std::uint32_t m = 0;
  std::uint32_t block_size = 0;
  std::uint64_t blocks_per_slot = 0;  ///< stripes
  std::uint32_t availability = 0;     ///< desired a; slots 0..k+a-2 are placed
  int tier = 0;                       ///< openbucket.tracker.v1.Tier
  std::string path;
  std::uint64_t size = 0;  ///< plaintext bytes
  std::string hash;
  std::vector<std::string> sources;  ///< the producer's BlockExchange addresses
  bool uploaded_once = false;        ///< actual availability has reached the desired one once
  bool removing = false;
  std::int64_t created_ms = 0;
  /// Paid tiers: the storage request on chain (decimal, docs/market.md); "" for the Free tier.
  std::string request_id;
  /// Paid tiers: the request's price in wei per byte-second, capped at 2^63 - 1; only
  /// consumers asking at most this much are placed.
  std::int64_t price = 0;

  /// n' = k + a - 1: how many slots are placed.
  std::uint32_t placed_slots() const noexcept { return k + availability - 1; }
  /// Bytes one slot takes on a consumer: its blocks and its index (32 bytes a block).
  std::uint64_t slot_bytes() const noexcept { return blocks_per_slot * (std::uint64_t{block_size} + 32); }
};

/// What the slot rows of one consumer take: bytes not yet confirmed and bytes held.
struct ConsumerLoad {
  std::uint64_t assigned_bytes = 0;  ///< slots assigned, not yet reported stored
  std::uint64_t held_bytes = 0;      ///< slots reported stored (verifying or proven) or being deleted
  std::uint32_t slots = 0;           ///< rows of any state
};

/// A producer's newest file index record (proto/tracker.proto PutIndexRecord).
struct IndexRecordRow {
  Bytes locator;          ///< 32 bytes
  std::string owner;      ///< peer ID that put it
  std::uint64_t sequence = 0;
  Bytes record;           ///< the SignedIndexRecord as put
};

/// The SQLite database. Not thread-safe: the tracker serialises access with its own mutex.
class TrackerDb {
 public:
  /// Schema version written to PRAGMA user_version. 1: the first; 2: slots verified before
  /// they count (slots.next_check_ms, slots.unanswered_since_ms), consumers' reported free
  /// space and reconciliation (consumers.free_reported, no_space_free, needs_reconcile), and
  /// the table `discards`; 3: consumers.account, and consumers.price in wei per byte-second;
  /// 4: files.request_id and files.price (the paid tiers' storage request); 5: the table
  /// `index_records` (producers' file index records, issue 13).
  static constexpr int kSchemaVersion = 5;

  /// Opens or creates the database at `path` (its directory must exist), creating the schema or
  /// migrating an older one in place (version 1 -> 2: stored slots stay stored and are
  /// challenged first; 2 -> 3: consumers have no account until they register again).
  /// Errors (io): cannot open, or another process holds it ("another
  /// tracker uses ..."); (corrupt): not a tracker database, or a newer schema version.
  static Result<std::unique_ptr<TrackerDb>> open(const std::filesystem::path& path);
  ~TrackerDb();
  TrackerDb(const TrackerDb&) = delete;
  TrackerDb& operator=(const TrackerDb&) = delete;

  /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it fails. Not reentrant.
  /// Errors: those of `body`, (io) from SQLite.
  Result<void> transaction(const std::function<Result<void>()>& body);

  // --- consumers ---
  /// Inserts or replaces every column of the consumer `row.peer_id`. Errors (io).
  Result<void> put_consumer(const ConsumerRow& row);
  /// The consumer, or nullopt. Errors (io, corrupt).
  Result<std::optional<ConsumerRow>> consumer(const std::string& peer_id);
  /// Every consumer, by peer ID. Errors (io, corrupt).
  Result<std::vector<ConsumerRow>> consumers();
  /// Sets last_seen of every online consumer to `now_ms` (a restarted tracker gives them one
  /// offline_after to call again). Errors (io).
  Result<void> touch_online_consumers(std::int64_t now_ms);

  // --- files ---
  /// Inserts or replaces every column of the file `row.file_id`. Errors (io).
  Result<void> put_file(const FileRow& row);
  /// The file with its manifest, or nullopt. Errors (io, corrupt).
  Result<std::optional<FileRow>> file(const std::string& file_id);
  /// Files without their manifests: the owner's, or all of them when `owner` is empty; ordered
  /// by tier (highest first), then creation. Errors (io, corrupt).
  Result<std::vector<FileRow>> files(const std::string& owner = {});
  /// Deletes a file with its slot rows and avoid entries. Errors (io).
  Result<void> delete_file(const std::string& file_id);

  // --- file index records (issue 13) ---
  /// The record kept under `locator` (32 bytes) and the peer that put it. Errors (io).
  Result<std::optional<IndexRecordRow>> index_record(ByteView locator);
  /// Inserts or replaces the record under `row.locator`. Errors (io).
  Result<void> put_index_record(const IndexRecordRow& row);

  // --- slots ---
  /// Rows of one file, by slot. Errors (io, corrupt).
  Result<std::vector<SlotRow>> slots_of_file(const std::string& file_id);
  /// Rows of one consumer. Errors (io, corrupt).
  Result<std::vector<SlotRow>> slots_of_consumer(const std::string& peer_id);
  /// Every row. Errors (io, corrupt).
  Result<std::vector<SlotRow>> all_slots();
  /// Inserts a row. Errors (already_exists): the slot or the consumer already has a row for the
  /// file; (io).
  Result<void> insert_slot(const SlotRow& row);
  /// Writes a row's state and challenge schedule (the row `row.file_id`, `row.slot`). Errors (io).
  Result<void> update_slot(const SlotRow& row);
  /// Deletes a row (nothing if absent). Errors (io).
  Result<void> delete_slot(const std::string& file_id, std::uint32_t slot);
  /// Stored rows of online consumers of a file. Errors (io).
  Result<std::uint32_t> stored_online(const std::string& file_id);
  /// Bytes and slot rows of every consumer holding a row (placement's free-space accounting).
  Result<std::map<std::string, ConsumerLoad>> consumer_loads();
  /// Up to `limit` rows of online consumers due for a challenge at `now_ms` (next_check_ms <=
  /// now): verifying rows first, then stored ones, each the longest due first. Errors (io, corrupt).
  Result<std::vector<SlotRow>> due_slots(std::int64_t now_ms, std::uint32_t limit);
  /// After a restart: every row owing an answer owes it from `now_ms` (the tracker could not
  /// ask while it was down), and no stored row waits more than `audit_interval_ms` (> 0) for
  /// its next challenge. Errors (io).
  Result<void> restart_challenges(std::int64_t now_ms, std::int64_t audit_interval_ms);

  // --- consumers to avoid for a file (they failed or lost one of its slots) ---
  /// Records that `consumer` should not get slots of `file_id` again if others can. Errors (io).
  Result<void> add_avoid(const std::string& file_id, const std::string& consumer);
  /// The consumers to avoid for `file_id`. Errors (io).
  Result<std::set<std::string>> avoided(const std::string& file_id);

  // --- discards: slots a consumer may hold outside any row, to be deleted (DELETE orders) ---
  /// Records that `consumer` is to delete slot `slot` of `file_id`. Errors (io).
  Result<void> add_discard(const std::string& file_id, std::uint32_t slot, const std::string& consumer);
  /// Forgets one (its consumer confirmed the deletion). Errors (io).
  Result<void> delete_discard(const std::string& file_id, std::uint32_t slot, const std::string& consumer);
  /// Forgets all of a consumer's (it went offline: it lists its slots when it is back). Errors (io).
  Result<void> delete_discards_of(const std::string& consumer);
  /// (file ID, slot) pairs `consumer` is to delete, by file. Errors (io).
  Result<std::vector<std::pair<std::string, std::uint32_t>>> discards_of(const std::string& consumer);
  /// Consumers with a deletion of a slot of `file_id` pending: no slot of the file is placed
  /// on them until they confirm it. Errors (io).
  Result<std::set<std::string>> discarding(const std::string& file_id);

 private:
  explicit TrackerDb(sqlite3* db) : db_(db) {}
  class Statement;
  /// The prepared statement for `sql`, reset and with bindings cleared; prepared once.
  Result<Statement> prepare(const char* sql);
  Result<void> exec(const char* sql);
  Result<void> migrate();
  /// The schema version stored in the file. Errors (io).
  Result<std::int64_t> user_version();

  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;  ///< prepared once, keyed by their SQL
};

}  // namespace ob::tracker
