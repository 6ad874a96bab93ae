#include "tracker/tracker.h"

#include "tracker/market_placer.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/stop_signals.h"
#include "net/identity.h"
#include "store/file_io.h"
#include "tracker/tracker_client.h"
#include "wallet/wallet_store.h"

namespace ob::tracker {

// --- TrackerServer -------------------------------------------------------------------------------

Result<std::unique_ptr<TrackerServer>> TrackerServer::start(TrackerServerConfig config, const net::TlsIdentity& tls) {
  std::unique_ptr<TrackerServer> self(new TrackerServer());
  OB_TRY(self->tracker_, Tracker::open(config.db, config.settings));
  if (config.challenge_tick.count() > 0) {
    // Before serving: STORED reports wake the challenge thread from the first call on.
    self->tracker_->set_challenge_listener([raw = self.get()] {
      {
        std::lock_guard lock(raw->stop_mutex_);
        raw->challenges_wanted_ = true;
      }
      raw->stop_cv_.notify_all();
    });
  }
  self->market_ = std::make_unique<MarketService>(*self->tracker_);
  self->producer_ = std::make_unique<ProducerService>(*self->tracker_);
  self->consumer_ = std::make_unique<ConsumerService>(*self->tracker_);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, net::server_credentials(tls), &self->port_);
  builder.SetMaxReceiveMessageSize(kMaxTrackerMessageBytes);
  builder.SetMaxSendMessageSize(kMaxTrackerMessageBytes);
  builder.RegisterService(self->market_.get());
  builder.RegisterService(self->producer_.get());
  builder.RegisterService(self->consumer_.get());
  self->server_ = builder.BuildAndStart();
  if (!self->server_ || self->port_ == 0) return fail(Errc::io, "the tracker cannot listen on ", config.listen);

  Tracker* tracker = self->tracker_.get();
  if (config.repair_tick.count() > 0) {
    self->threads_.emplace_back([raw = self.get(), tick = config.repair_tick, tracker] {
      raw->loop(tick, "maintenance", [tracker] {
        if (auto ok = tracker->maintain(); !ok) spdlog::error("maintenance: {}", ok.error().message);
      });
    });
  }
  if (const std::shared_ptr<MarketPlacer> placer = config.settings.placer; placer && config.validator_tick.count() > 0) {
    // The validator: each tick, the proofs missed in the periods that just ended are marked.
    self->threads_.emplace_back([raw = self.get(), tick = config.validator_tick, tracker, placer] {
      raw->loop(tick, "validator", [tracker, &placer] {
        tracker->settle_holder_claims();
        auto requests = tracker->paid_requests();
        if (!requests) {
          spdlog::error("validator: {}", requests.error().message);
          return;
        }
        if (!requests->empty()) placer->mark_missed_proofs(*requests);
      });
    });
  }
  if (config.challenge_tick.count() > 0) {
    Auditor inner = config.auditor ? std::move(config.auditor) : network_auditor(tls, config.settings.audit_deadline);
    // Challenges not yet started when stop() is called are not run: stopping waits for one call
    // per consumer at most.
    Auditor auditor = [raw = self.get(), inner = std::move(inner)](
                          const net::PeerId& consumer, const std::vector<std::string>& addresses, const Cid& file,
                          const Manifest& manifest, std::uint32_t slot, std::uint64_t block) -> Result<void> {
      {
        std::lock_guard lock(raw->stop_mutex_);
        if (raw->stopping_) return fail(Errc::internal, "the tracker is stopping");
      }
      return inner(consumer, addresses, file, manifest, slot, block);
    };
    self->threads_.emplace_back([raw = self.get(), tick = config.challenge_tick, tracker,
                                 auditor = std::move(auditor)] {
      raw->loop(
          tick, "challenges",
          [raw, tracker, &auditor] {
            auto round = tracker->audit_round(auditor);
            if (!round) {
              spdlog::error("challenges: {}", round.error().message);
              return;
            }
            if (round->failed + round->skipped > 0) {
              spdlog::warn("challenges: {} passed ({} newly proven), {} failed ({} unanswered), {} slot(s) dropped, "
                           "{} not run",
                           round->passed, round->verified, round->failed, round->unanswered, round->dropped,
                           round->skipped);
            } else if (round->passed > 0) {
              spdlog::debug("challenges: {} passed ({} newly proven)", round->passed, round->verified);
            }
            if (round->more) {
              std::lock_guard lock(raw->stop_mutex_);
              raw->challenges_wanted_ = true;  // a backlog: go on at once
            }
          },
          &raw->challenges_wanted_);
    });
  }
  return self;
}

TrackerServer::~TrackerServer() { stop(); }

void TrackerServer::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }
}

void TrackerServer::loop(std::chrono::milliseconds interval, const char* name, const std::function<void()>& work,
                         bool* wake) {
  for (;;) {
    {
      std::unique_lock lock(stop_mutex_);
      stop_cv_.wait_for(lock, interval, [&] { return stopping_ || (wake != nullptr && *wake); });
      if (stopping_) return;
      if (wake != nullptr) *wake = false;
    }
    try {
      work();
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", name, e.what());
    }
  }
}

// --- the program -------------------------------------------------------------------------------

namespace {

/// The host part of "host:port" (brackets of "[::1]:port" kept). Errors (invalid_argument).
/// The host of a "host:port" flag value, after checking the port. `flag` names it in errors.
Result<std::string> listen_host(const std::string& listen, const char* flag = "--listen") {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size() || listen.size() > 260) {
    return fail(Errc::invalid_argument, flag, " '", listen, "' must be host:port");
  }
  for (const char c : listen.substr(colon + 1)) {
    if (c < '0' || c > '9') return fail(Errc::invalid_argument, flag, " '", listen, "' has a bad port");
  }
  if (listen.size() - colon - 1 > 5 || std::stoul(listen.substr(colon + 1)) > 65535) {
    return fail(Errc::invalid_argument, flag, " '", listen, "' has a bad port");
  }
  return listen.substr(0, colon);
}

/// GET /metrics for the tracker (Prometheus text format, no token: bind it to loopback or a
/// monitoring network). Runs on its own thread from start() until the object goes.
class MetricsServer {
 public:
  /// Binds `listen` ("host:port", port 0 = any free port). Errors (io): it cannot be bound.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& host, int port, Tracker& tracker) {
    std::unique_ptr<MetricsServer> self(new MetricsServer());
    self->http_.Get("/metrics", [&tracker](const httplib::Request&, httplib::Response& res) {
      auto gauges = tracker.gauges();
      if (!gauges) {
        res.status = 500;
        res.set_content("# " + gauges.error().message + "\n", "text/plain");
        return;
      }
      res.set_content(metrics::render(*gauges), metrics::kContentType);
    });
    self->port_ = port == 0 ? self->http_.bind_to_any_port(host) : (self->http_.bind_to_port(host, port) ? port : -1);
    if (self->port_ < 0) return fail(Errc::io, "cannot listen on ", host, ":", port, " for /metrics");
    self->thread_ = std::thread([server = self.get()] { server->http_.listen_after_bind(); });
    return self;
  }
  ~MetricsServer() {
    http_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const noexcept { return port_; }

 private:
  MetricsServer() = default;
  httplib::Server http_;
  std::thread thread_;
  int port_ = -1;
};

std::filesystem::path tracker_file_path(const std::filesystem::path& home) { return home / "tracker.json"; }

}  // namespace

Result<void> open_market(const TrackerOptions& options, TrackerSettings& tracker_settings) {
  if (options.chain_rpc.empty()) {
    if (options.market || options.deploy_market) {
      return fail(Errc::invalid_argument, "--market and --deploy-market need --chain-rpc URL");
    }
    return {};
  }
  if (options.market.has_value() == options.deploy_market) {
    return fail(Errc::invalid_argument, "--chain-rpc needs either --market ADDRESS or --deploy-market");
  }
  std::optional<wallet::Address> wanted;
  if (options.market) {
    OB_TRY(wanted, wallet::Address::parse(*options.market));
  }
  const wallet::WalletStore wallet(options.home);
  OB_TRY(wallet::Account account, wallet.find_or_default(options.account));
  OB_TRY(wallet::PrivateKey key, wallet.unlock(account, options.passphrase));
  chain::ChainSettings settings;
  settings.rpc = options.chain_rpc;
  OB_TRY(chain::ChainClient chain, chain::ChainClient::connect(settings));
  const std::uint64_t chain_id = chain.chain_id();

  // --deploy-market remembers what it deployed, so that a restart keeps its requests.
  const std::filesystem::path remembered = options.home / "market.json";
  if (!wanted) {
    if (auto text = fileio::read_file(remembered, 64 * 1024)) {
      const auto json = nlohmann::json::parse(as_chars(*text), nullptr, /*allow_exceptions=*/false);
      if (json.is_object() && json.value("chainId", std::uint64_t{0}) == chain_id) {
        if (auto address = wallet::Address::parse(json.value("market", ""))) wanted = *address;
      }
    }
  }
  std::optional<market::MarketClient> client;
  if (wanted) {
    auto opened = market::MarketClient::open(std::move(chain), *wanted);
    if (opened) {
      client.emplace(std::move(*opened));
    } else if (options.market) {
      return std::unexpected(opened.error());
    } else {
      spdlog::warn("the market remembered in {} is gone ({}); deploying a new one", remembered.string(),
                   opened.error().message);
      OB_TRY(chain, chain::ChainClient::connect(settings));
    }
  }
  if (!client) {
    OB_TRY(market::MarketClient deployed, market::MarketClient::deploy(std::move(chain), key, options.market_params));
    client.emplace(std::move(deployed));
    const std::string text =
        nlohmann::json{{"chainId", chain_id}, {"market", client->address().to_checksum()}}.dump() + "\n";
    OB_TRY_VOID(fileio::write_file_atomic(remembered, as_bytes(text)));
    spdlog::info("deployed StorageMarket at {} on chain {}", client->address().to_checksum(), chain_id);
  }
  tracker_settings.market = MarketSettings{chain_id, client->address().to_checksum(), key.address().to_checksum()};
  tracker_settings.placer = std::make_shared<MarketPlacer>(std::move(*client), std::move(key));
  return {};
}

Result<void> run_tracker(const TrackerOptions& options) {
  OB_TRY(const StopSignals stop_signals, StopSignals::block());  // before any thread exists (gRPC)
  OB_TRY_VOID(setup_logging("tracker", options.log_level));
  if (options.heartbeat_ms == 0) return fail(Errc::invalid_argument, "--heartbeat-ms must be at least 1");
  if (options.repair_tick_ms == 0) return fail(Errc::invalid_argument, "--repair-tick-ms must be at least 1");
  const std::uint64_t offline_after = options.offline_after_ms.value_or(3 * std::uint64_t{options.heartbeat_ms});
  if (offline_after <= options.heartbeat_ms) {
    return fail(Errc::invalid_argument, "--offline-after-ms (", offline_after, ") must exceed --heartbeat-ms (",
                options.heartbeat_ms, ")");
  }
  if (options.unanswered_after_ms && *options.unanswered_after_ms == 0) {
    return fail(Errc::invalid_argument, "--unanswered-after-ms must be at least 1");
  }
  OB_TRY(std::string host, listen_host(options.listen));

  std::error_code ec;
  std::filesystem::create_directories(options.home, ec);
  if (ec) return fail(Errc::io, "cannot create ", options.home.string(), ": ", ec.message());
  OB_TRY(net::Identity identity, net::Identity::load_or_create(options.home / "keys" / "identity.key"));
  OB_TRY(net::TlsIdentity tls, net::make_tls_identity(identity));

  TrackerServerConfig config;
  config.listen = options.listen;
  config.db = options.db.value_or(options.home / "tracker.db");
  config.settings.heartbeat_interval = std::chrono::milliseconds(options.heartbeat_ms);
  config.settings.offline_after = std::chrono::milliseconds(offline_after);
  config.settings.audit_interval = std::chrono::milliseconds(options.audit_interval_ms);
  // A consumer gets at least one whole challenge deadline to answer, and as long as a silent
  // one keeps its slots before it is declared offline.
  config.settings.unanswered_after = std::chrono::milliseconds(options.unanswered_after_ms.value_or(
      static_cast<std::uint32_t>(std::max<std::uint64_t>(offline_after, config.settings.audit_deadline.count()))));
  config.repair_tick = std::chrono::milliseconds(options.repair_tick_ms);
  // Often enough to retry unanswered challenges every heartbeat and to audit on time.
  std::uint32_t challenge_tick = std::min<std::uint32_t>(1000, options.heartbeat_ms);
  if (options.audit_interval_ms > 0) challenge_tick = std::min(challenge_tick, options.audit_interval_ms);
  config.challenge_tick = std::chrono::milliseconds(challenge_tick);
  OB_TRY_VOID(open_market(options, config.settings));
  const std::optional<MarketSettings> market = config.settings.market;
  OB_TRY(std::unique_ptr<TrackerServer> server, TrackerServer::start(std::move(config), tls));
  std::unique_ptr<MetricsServer> metrics_server;
  std::string metrics_address;
  if (options.metrics_listen != "off") {
    OB_TRY(std::string metrics_host, listen_host(options.metrics_listen, "--metrics"));
    const int wanted = std::stoi(options.metrics_listen.substr(options.metrics_listen.rfind(':') + 1));
    OB_TRY(metrics_server, MetricsServer::start(metrics_host, wanted, server->tracker()));
    metrics_address = metrics_host + ":" + std::to_string(metrics_server->port());
  }

  const std::string address = host + ":" + std::to_string(server->port());
  const std::string peer_id = identity.peer_id().to_string();
  const TrackerAddress tracker_address{identity.peer_id(), address};
  const long pid = static_cast<long>(::getpid());
  const std::filesystem::path info_file = tracker_file_path(options.home);
  const std::string info = nlohmann::json{{"pid", pid},
                                          {"address", address},
                                          {"peerId", peer_id},
                                          {"tracker", tracker_address.to_string()},
                                          {"metrics", metrics_address},
                                          {"market", market ? nlohmann::json{{"chainId", market->chain_id},
                                                                             {"address", market->address},
                                                                             {"placer", market->placer}}
                                                            : nlohmann::json()}}
                               .dump() +
                           "\n";
  OB_TRY_VOID(fileio::write_file_atomic(info_file, as_bytes(info)));
  spdlog::info("open-bucket tracker for {} (pid {}), database {}", options.home.string(), pid,
               options.db.value_or(options.home / "tracker.db").string());
  spdlog::info("listening on {} (TLS), peer ID {}", address, peer_id);
  if (metrics_server) spdlog::info("metrics on http://{}/metrics", metrics_address);
  if (market) {
    spdlog::info("market {} on chain {}, placer {}", market->address, market->chain_id, market->placer);
  } else {
    spdlog::info("no chain: Free tier only");
  }
  std::cout << "tracker " << tracker_address.to_string() << std::endl;  // flushed: scripts wait for it

  while (!stop_signals.wait(std::chrono::seconds(1))) {
    // nothing to look after between signals
  }
  metrics_server.reset();
  server->stop();
  server.reset();
  // Only our own file: a tracker that replaced it keeps its own.
  if (auto text = fileio::read_file(info_file, 64 * 1024)) {
    const auto json = nlohmann::json::parse(as_chars(*text), nullptr, /*allow_exceptions=*/false);
    const auto it = json.is_object() ? json.find("pid") : json.end();
    if (it != json.end() && it->is_number_integer() && it->get<long>() == pid) {
      std::filesystem::remove(info_file, ec);
      (void)fileio::sync_dir(options.home);
    }
  }
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return {};
}

}  // namespace ob::tracker
