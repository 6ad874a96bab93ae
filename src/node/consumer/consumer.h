// The consumer role of the daemon (seed 000 "Consumer"): it keeps slots of other people's files
// in the Consumer directory, up to its limit, answers audits, and follows the tracker's orders.
//
// Running (start() .. stop()) means:
//   - its SlotStore, opened at the Consumer directory, is served to peers and audits
//     (Network::set_consumer_slots);
//   - the tracker knows it (RegisterConsumer: its block exchange address, limit, used bytes and
//     free bytes, the smaller of limit - used and its file system's free space) and hears from
//     it at the interval it asked for (Heartbeat, re-registering when the tracker says it does
//     not know us; an unreachable tracker is logged and retried, never fatal);
//   - after each registration, and when a heartbeat asks, it lists the slots it holds
//     (ReconcileSlots, in pages of 1024): the tracker adopts those it may keep and answers
//     DELETE for the others, which are carried out like any order;
//   - the orders the heartbeats bring run on a pool of workers (two by default): STORE fetches
//     the slot from the order's sources (exchange::fetch_slots) and is refused (FAILED with
//     reason NO_SPACE) when it would not fit the limit or the file system; DELETE removes it
//     (and answers DELETED for a slot not held). Each outcome is reported (ReportSlots: STORED
//     with bytes and millis, FAILED with why, DELETED, GIVEN_UP); a report that cannot be sent
//     is kept, on disk too, and sent with a later heartbeat;
//   - CWatcher (cwatcher.h) gives up a slot that someone modified or deleted on disk;
//   - a paid-tier slot (a STORE order with a storage request and a fill permit) is filled on
//     chain once stored (MarketHost, market_host.h: collateral from the consumer's account,
//     unlocked with the passphrase in the daemon's $OPEN_BUCKET_PASSWORD), and proven every
//     period after; a fill the chain refuses drops the slot and reports FAILED with why.
// Lowering the limit below what is stored gives up slots, newest first, until it fits.
//
//   <home>/state/consumer.json   {"started": bool, "reports": [unsent reports]}, written
//                                atomically; a restarted daemon starts the consumer again when
//                                it says started (stop() by the user clears it).
//
// Locking: `control_mutex_` serialises start, stop, shutdown and configure (which join threads
// while holding it; no worker takes it). `store_mutex_` is held shared by every change to the
// Consumer directory's files and exclusively while configure moves them. `mutex_` guards all
// other state and is never held across I/O to the network or a wait on another lock. A file is
// changed by one thread at a time (busy_files_, as SlotStore requires).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/cid.h"
#include "core/error.h"
#include "exchange/fetcher.h"
#include "net/identity.h"
#include "node/consumer/cwatcher.h"
#include "node/consumer/market_host.h"
#include "node/home.h"
#include "tracker/tracker_client.h"

namespace ob {
class Engine;
class Network;
}  // namespace ob

namespace ob::consumer {

/// One slot the consumer holds, as listings show it.
struct HeldSlot {
  Cid file;
  std::uint32_t slot = 0;
  std::uint64_t bytes = 0;  ///< bytes of slot data (the blocks file)
};

/// The consumer's state (GET /v1/consumer/slots).
struct ConsumerStatus {
  bool started = false;
  bool registered = false;             ///< the tracker accepted our last registration or heartbeat
  std::filesystem::path directory;     ///< the Consumer directory
  std::uint64_t limit_bytes = 0;       ///< most bytes of slots kept
  std::uint64_t used_bytes = 0;        ///< bytes of slots held (blocks files)
  std::vector<HeldSlot> slots;         ///< sorted by file, then slot
  std::string account;                 ///< [consumer] account: EIP-55 address paid, "" = the wallet's default
  std::uint64_t price_wei = 0;         ///< [consumer] price_wei_per_byte_second; 0 = Free tier only
};

/// A change of the consumer's config (seed 000 `consumer config`); absent fields stay.
struct ConsumerChange {
  /// The new Consumer directory: an absolute path, or "~/..." (the daemon's $HOME).
  std::optional<std::string> directory;
  std::optional<std::uint64_t> limit_bytes;  ///< seed 000's limit, already parsed ("2 GB")
  std::optional<bool> start_on_startup;      ///< run the daemon, and the consumer, at login
  std::optional<std::string> account;        ///< the wallet account paid (EIP-55 address, checked by the caller)
  /// Wei per byte-second asked for paid-tier slots; at most 2^63 - 1 (checked by the caller,
  /// as config.toml holds TOML integers).
  std::optional<std::uint64_t> price_wei;
};

/// A report to the tracker about one slot (proto SlotReport), kept until it is sent.
struct PendingReport {
  std::string file_id;
  std::uint32_t slot = 0;
  int state = 0;  ///< openbucket::tracker::v1::SlotReport::State
  std::string detail;
  std::uint64_t bytes = 0;
  std::uint32_t millis = 0;
  int reason = 0;  ///< openbucket::tracker::v1::SlotReport::Reason (FAILED: NO_SPACE)
};

/// Tunables; the defaults are the daemon's.
struct ConsumerOptions {
  /// Heartbeat interval until the tracker names one, and the retry interval while it is
  /// unreachable.
  std::chrono::milliseconds heartbeat_interval{5000};
  /// Deadline of each call to the tracker.
  std::chrono::milliseconds tracker_deadline{10000};
  /// Orders carried out at once.
  unsigned workers = 2;
  /// How long after the consumer's own write or removal of a slot CWatcher ignores its events.
  std::chrono::milliseconds quiet_grace{2000};
  CWatcherOptions watcher;
  exchange::FetchOptions fetch;
  /// Installs or removes the startup unit (node/startup.h); replaced in tests.
  std::function<Result<void>(const std::filesystem::path& home_dir, bool wanted)> update_startup;
};

/// The consumer role. Created once by the daemon; thread-safe (REST handlers call it
/// concurrently).
class Consumer {
 public:
  /// A stopped consumer of `home` (which, like `engine` and `network`, must outlive it) with the
  /// daemon's `config` (its [consumer] section is the consumer's from now on) and tracker, if
  /// one is configured. Reads state/consumer.json (unsent reports) and, when the Consumer
  /// directory exists, the slots in it. Errors (io, corrupt): either cannot be read.
  static Result<std::unique_ptr<Consumer>> create(const Home& home, Engine& engine, Network& network,
                                                  std::optional<tracker::TrackerClient> tracker, NodeConfig config,
                                                  ConsumerOptions options = {});
  /// Stops without forgetting that it was started (as shutdown()).
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  /// Whether state/consumer.json says the consumer was running when its daemon stopped.
  static bool was_started(const std::filesystem::path& home_dir);
  /// Makes state/consumer.json say stopped, keeping its unsent reports: `consumer stop` when no
  /// daemon runs (one that does owns the file). Errors (corrupt): not the consumer's JSON; (io).
  static Result<void> forget_started(const std::filesystem::path& home_dir);

  /// Starts the consumer (see the top of this file) and records it in state/consumer.json.
  /// Returns true when it had already started (nothing done). Errors (invalid_argument): "no
  /// tracker configured: set [tracker] address in config.toml"; (io): the Consumer directory or
  /// the state file cannot be written, inotify cannot be set up.
  Result<bool> start();
  /// Stops it (threads joined, slots no longer served) and records that in state/consumer.json,
  /// so that a restarted daemon leaves it stopped. Returns false when it was not started.
  bool stop();
  /// Stops it as the daemon does when it exits: state/consumer.json keeps saying started.
  void shutdown();

  /// Applies a config change, all of it or none (seed 000 "Change Consumer config"): a new
  /// directory must be usable (created if missing; a directory the daemon can read and write;
  /// not inside the home's stores or the Producer directory), and every slot is moved there
  /// (rename, or copy + fsync + delete across file systems); the limit takes effect (slots
  /// given up, newest first, when it is lower than what is stored); startOnStartup installs or
  /// removes the startup unit; then config.toml is saved (read afresh, only the [consumer] keys
  /// changed). If a step fails, the steps before it are undone. Errors (invalid_argument): the
  /// directory is not usable ("Invalid directory: why"); (already_exists): the new directory
  /// already holds slots of a file held here; (io): moving, the unit or config.toml failed.
  Result<void> configure(const ConsumerChange& change);

  /// The consumer's state and held slots.
  ConsumerStatus status() const;
  /// The Consumer directory in use.
  std::filesystem::path directory() const;
  /// Reports not yet accepted by the tracker.
  std::vector<PendingReport> pending_reports() const;

  /// `consumer earnings` (MarketHost::earnings): the account's withdrawable balance and each
  /// filled slot's accrued pay and collateral. Errors: no market yet (the consumer has not
  /// registered with a tracker that runs one), the account locked, the chain's.
  Result<Earnings> earnings();
  /// `consumer withdraw` (MarketHost::withdraw). Errors: as earnings(); "Nothing to withdraw: …".
  Result<market::Withdrawal> withdraw();

 private:
  struct Source {
    net::PeerId peer;
    std::vector<std::string> addresses;
  };
  struct Order {
    bool store = true;  // STORE, else DELETE
    SlotRef ref;
    std::vector<Source> sources;
    std::string request_id;  // STORE of a paid-tier slot: its storage request, decimal
    Bytes permit;            // and the placer's fill permit
  };
  struct Held {
    std::uint64_t bytes = 0;
    std::int64_t stored_ns = 0;  // when it was stored (its index file's mtime): give-up order
  };
  using Clock = std::chrono::steady_clock;

  Consumer(const Home& home, Engine& engine, Network& network, std::optional<tracker::TrackerClient> tracker,
           NodeConfig config, ConsumerOptions options);
  std::filesystem::path directory_locked() const;
  Result<void> load_held(const std::shared_ptr<SlotStore>& store);
  Result<void> persist_locked();
  void halt();
  void heartbeat_loop();
  void register_once();
  void heartbeat_once();
  /// Lists the slots held to the tracker (ReconcileSlots, in pages) and queues the DELETE
  /// orders it answers; on failure reconcile_wanted_ stays set and it is tried again.
  void reconcile_once();
  /// Free bytes to report: the smaller of limit - used and the Consumer directory's file
  /// system's free space (statvfs), and the limit's figures for the request.
  struct Space {
    std::uint64_t capacity = 0;
    std::uint64_t used = 0;
    std::uint64_t free = 0;
  };
  Space space() const;
  /// Queues up to `max` of `orders` (STORE or DELETE) for the workers.
  void accept_orders(const google::protobuf::RepeatedPtrField<openbucket::tracker::v1::SlotOrder>& orders,
                     std::size_t max);
  void flush_reports();
  void worker_loop();
  PendingReport execute(const Order& order);
  PendingReport execute_store(const Order& order);
  PendingReport execute_delete(const Order& order);
  /// Fills the paid-tier slot `order` just stored (`stored` is its STORED report) on chain;
  /// when the chain refuses, drops the slot and returns FAILED with why. Called without
  /// store_mutex_ held (MarketHost's prove hook takes it).
  PendingReport fill_paid(const Order& order, PendingReport stored);
  /// MarketHost's hooks over this consumer's account and slots.
  MarketHostHooks market_hooks();
  Result<Bytes> manifest_for(const Cid& file, const std::vector<exchange::PeerClient>& peers);
  void lock_file(const Cid& file);
  /// Releases `file`; `changed`: the work wrote or removed `ref`, whose events CWatcher then
  /// ignores for quiet_grace.
  void unlock_file(const SlotRef& ref, bool changed);
  void maybe_drop_manifest(const Cid& file);
  bool give_up(const SlotRef& ref, const std::string& reason);
  void enforce_limit();
  void queue_report(PendingReport report);
  Result<void> start_watcher();
  std::vector<SlotRef> held_refs() const;
  CheckVerdict should_check(const SlotRef& ref) const;
  std::uint64_t used_locked() const;

  const Home& home_;
  Engine& engine_;
  Network& network_;
  std::optional<tracker::TrackerClient> tracker_;
  ConsumerOptions options_;

  std::mutex control_mutex_;
  std::shared_mutex store_mutex_;
  std::mutex flush_mutex_;  // one ReportSlots at a time, so reports go out in order

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;       // workers: an order, a freed file, stop, resume
  std::condition_variable heartbeat_cv_;  // heartbeat: stop, a report to send
  std::condition_variable files_cv_;      // a busy file was released
  NodeConfig config_;
  std::shared_ptr<SlotStore> store_;  // null until the Consumer directory exists
  std::map<SlotRef, Held> held_;
  std::map<SlotRef, Clock::time_point> quiet_;  // our own writes and removals
  std::set<Cid> busy_files_;
  std::deque<Order> queue_;
  std::set<std::pair<SlotRef, bool>> queued_;  // orders queued or running (ref, store)
  std::uint64_t reserved_ = 0;                 // bytes of STOREs in flight
  std::vector<PendingReport> pending_;
  bool started_ = false;
  bool stopping_ = false;
  bool paused_ = false;  // configure is moving the directory: workers take no new order
  bool registered_ = false;
  bool reports_waiting_ = false;  // wakes the heartbeat thread to send them
  bool reconcile_wanted_ = false;  // list the slots held to the tracker (after registering, or asked)
  bool tracker_down_ = false;     // warned that the tracker is unreachable
  std::chrono::milliseconds interval_;
  std::unique_ptr<CWatcher> watcher_;
  std::unique_ptr<MarketHost> host_;  // the paid tiers' fills and proofs; set by create()
  std::thread heartbeat_;
  std::vector<std::thread> workers_;
};

}  // namespace ob::consumer
