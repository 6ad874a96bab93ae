// The tracker program (`open-bucket tracker`, docs/tracker.md): the gRPC server of
// proto/tracker.proto over TLS, with a maintenance thread (offline consumers, overdue
// assignments, unanswered slots, placement and repair) and a challenge thread (slots reported
// stored are proven before they count; proven slots are audited again every audit interval).
//
//   <home>/keys/identity.key   the tracker's Ed25519 identity: its peer ID pins its TLS certificate
//   <home>/tracker.db          the SQLite database (tracker_db.h), unless --db says otherwise
//   <home>/tracker.json        {"pid", "address", "peerId", "tracker", "metrics", "market"} while it runs
//   <home>/market.json         {"chainId", "market"}: the StorageMarket --deploy-market deployed
//   <home>/wallet/             the tracker's account (wallet_store.h), with --chain-rpc
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "market/market_client.h"
#include "net/tls.h"
#include "tracker/tracker_service.h"

namespace ob::tracker {

/// What a TrackerServer runs.
struct TrackerServerConfig {
  std::string listen = "127.0.0.1:7070";  ///< "host:port"; port 0 picks a free one
  std::filesystem::path db;               ///< the SQLite database file
  TrackerSettings settings;
  std::chrono::milliseconds repair_tick{1000};  ///< maintenance interval; 0 = no maintenance thread
  /// How often the challenge thread looks for slots due (a STORED report wakes it at once);
  /// 0 = no challenge thread (tests run Tracker::audit_round by hand).
  std::chrono::milliseconds challenge_tick{1000};
  Auditor auditor;  ///< empty: network_auditor(tls, settings.audit_deadline)
  /// How often the validator marks missed proofs (with settings.placer); 0 = never.
  std::chrono::milliseconds validator_tick{1000};
};

/// A running tracker: the Tracker, its three gRPC services on one TLS server (1 MiB message
/// limit), and its background threads. stop() (or destruction) stops the threads, joins them
/// and shuts the server down.
class TrackerServer {
 public:
  /// Opens the database and starts serving with `tls` as the server's identity.
  /// Errors: those of Tracker::open; (io) the address cannot be bound.
  static Result<std::unique_ptr<TrackerServer>> start(TrackerServerConfig config, const net::TlsIdentity& tls);
  ~TrackerServer();
  TrackerServer(const TrackerServer&) = delete;
  TrackerServer& operator=(const TrackerServer&) = delete;

  /// The TCP port bound.
  int port() const noexcept { return port_; }
  Tracker& tracker() noexcept { return *tracker_; }
  /// Stops the threads and the server; idempotent.
  void stop();

 private:
  TrackerServer() = default;
  /// Runs `work` every `interval` until stop(), and at once whenever `*wake` is set (guarded by
  /// stop_mutex_; cleared before each run); catches everything `work` throws.
  void loop(std::chrono::milliseconds interval, const char* name, const std::function<void()>& work,
            bool* wake = nullptr);

  std::unique_ptr<Tracker> tracker_;
  std::unique_ptr<MarketService> market_;
  std::unique_ptr<ProducerService> producer_;
  std::unique_ptr<ConsumerService> consumer_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex stop_mutex_;  ///< guards stopping_ and challenges_wanted_
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool challenges_wanted_ = false;  ///< slots became due: the challenge thread runs at once
  std::vector<std::thread> threads_;
};

/// `open-bucket tracker`'s flags.
struct TrackerOptions {
  std::filesystem::path home;                      ///< resolved home (resolve_home)
  std::string listen = "127.0.0.1:7070";           ///< --listen host:port
  std::optional<std::filesystem::path> db;         ///< --db, default <home>/tracker.db
  std::string log_level = "info";                  ///< --log-level
  std::uint32_t heartbeat_ms = 5000;               ///< --heartbeat-ms, told to consumers
  std::optional<std::uint32_t> offline_after_ms;   ///< --offline-after-ms, default 3 x heartbeat
  std::uint32_t audit_interval_ms = 60000;         ///< --audit-interval-ms, 0 = no audits
  /// --unanswered-after-ms: how long a slot's consumer may owe an answer to a challenge before
  /// the slot stops counting; default the larger of offline_after and the challenge deadline.
  std::optional<std::uint32_t> unanswered_after_ms;
  std::uint32_t repair_tick_ms = 1000;             ///< --repair-tick-ms
  /// --metrics: "host:port" of GET /metrics (Prometheus text; port 0 = any free port, written
  /// to tracker.json as "metrics"), or "off".
  std::string metrics_listen = "127.0.0.1:0";
  /// --chain-rpc: the Ethereum node of the paid tiers' market; empty: no chain, Free tier only.
  std::string chain_rpc;
  std::optional<std::string> market;  ///< --market ADDRESS: a StorageMarket already deployed
  bool deploy_market = false;         ///< --deploy-market: deploy the embedded one (remembered)
  std::string account;                ///< --account: the tracker's wallet account; empty: the default
  std::string passphrase;             ///< that account's keystore passphrase
  market::MarketParams market_params; ///< the contract's parameters when deploying
};

/// The market `options` ask for, opened on the chain: none without --chain-rpc; the contract
/// at --market; or, with --deploy-market, the one deployed by an earlier start on the same
/// chain (<home>/market.json) if its code is still there, else a new deployment from the
/// tracker's account (remembered in <home>/market.json). Errors (invalid_argument): --market
/// or --deploy-market without --chain-rpc, neither or both with it, an unknown account, a
/// wrong passphrase, no contract at --market; the chain's (an unreachable node is io).
/// Sets `settings.market` and `settings.placer` (the tracker's account on it) when it opens one.
Result<void> open_market(const TrackerOptions& options, TrackerSettings& settings);

/// Runs the tracker until SIGTERM or SIGINT: creates the home if needed, loads or creates the
/// identity, serves, writes <home>/tracker.json and prints "tracker PEERID@host:port" on stdout
/// once listening. Errors (invalid_argument): bad flags; those of TrackerServer::start; (io).
Result<void> run_tracker(const TrackerOptions& options);

}  // namespace ob::tracker
