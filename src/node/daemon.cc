#include "node/daemon.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/consumer_routes.h"
#include "api/producer_routes.h"
#include "api/rest_server.h"
#include "api/wallet_routes.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/stop_signals.h"
#include "net/identity.h"
#include "node/engine.h"
#include "node/network.h"
#include "node/consumer/consumer.h"
#include "node/home.h"
#include "node/producer/producer.h"
#include "store/file_io.h"
#include "tracker/tracker_client.h"
#include "wallet/wallet_store.h"

namespace ob {
namespace {

Result<void> write_daemon_info(const std::filesystem::path& file, const DaemonInfo& info) {
  const std::string text =
      nlohmann::json{{"pid", info.pid},
                     {"apiPort", info.api_port},
                     {"peerId", info.peer_id},
                     {"p2pAddress", info.p2p_address},
                     {"dhtPort", info.dht_port}}
          .dump() +
      "\n";
  return fileio::write_file_atomic(file, as_bytes(text));
}

/// The roles' gauges for GET /metrics: the consumer's slots and bytes, the producer's local
/// files by status. Reads in-memory state only (no tracker call per scrape).
std::vector<metrics::Gauge> role_gauges(const producer::Producer& producer, const consumer::Consumer& consumer) {
  std::vector<metrics::Gauge> gauges;
  const consumer::ConsumerStatus status = consumer.status();
  gauges.push_back({"ob_consumer_started", "1 while the consumer role runs.", status.started ? 1.0 : 0.0, {}});
  gauges.push_back({"ob_consumer_registered", "1 while the tracker accepts this consumer's heartbeats.",
                    status.registered ? 1.0 : 0.0, {}});
  gauges.push_back({"ob_consumer_slots", "Slots held for the network.", static_cast<double>(status.slots.size()), {}});
  gauges.push_back({"ob_consumer_used_bytes", "Bytes of slot data held for the network.",
                    static_cast<double>(status.used_bytes), {}});
  gauges.push_back({"ob_consumer_limit_bytes", "The consumer's limit in bytes.", static_cast<double>(status.limit_bytes), {}});
  std::map<std::string, double> by_status{{"PENDING", 0}, {"UPLOADING", 0}, {"UPLOADED", 0}};
  for (const producer::LocalFile& file : producer.list_local()) ++by_status[std::string(producer::status_name(file.status))];
  for (const auto& [name, count] : by_status) {
    gauges.push_back({"ob_producer_files", "Files in the producer's local list, by status.", count, {{"status", name}}});
  }
  return gauges;
}

}  // namespace

std::filesystem::path daemon_file_path(const std::filesystem::path& home_dir) { return home_dir / "daemon.json"; }

Result<DaemonInfo> read_daemon_info(const std::filesystem::path& file) {
  OB_TRY(Bytes bytes, fileio::read_file(file, 64 * 1024));
  const nlohmann::json json = nlohmann::json::parse(as_chars(bytes), nullptr, /*allow_exceptions=*/false);
  const auto bad = [&] { return fail(Errc::corrupt, file.string(), " is not a daemon file"); };
  if (!json.is_object()) return bad();
  const auto pid = json.find("pid");
  const auto port = json.find("apiPort");
  const auto peer = json.find("peerId");
  if (pid == json.end() || !pid->is_number_integer() || port == json.end() || !port->is_number_unsigned() ||
      peer == json.end() || !peer->is_string()) {
    return bad();
  }
  const auto pid_value = pid->get<std::int64_t>();
  const auto port_value = port->get<std::uint64_t>();
  if (pid_value <= 0 || port_value == 0 || port_value > 65535) return bad();
  DaemonInfo info{static_cast<long>(pid_value), static_cast<std::uint16_t>(port_value), peer->get<std::string>(), {}, 0};
  // Network fields: absent in files of daemons without a network.
  if (const auto p2p = json.find("p2pAddress"); p2p != json.end() && p2p->is_string()) info.p2p_address = p2p->get<std::string>();
  if (const auto dht = json.find("dhtPort"); dht != json.end() && dht->is_number_unsigned() && dht->get<std::uint64_t>() <= 65535) {
    info.dht_port = static_cast<std::uint16_t>(dht->get<std::uint64_t>());
  }
  return info;
}

std::optional<DaemonInfo> running_daemon(const std::filesystem::path& home_dir) {
  auto info = read_daemon_info(daemon_file_path(home_dir));
  if (!info || info->pid > std::numeric_limits<pid_t>::max()) return std::nullopt;
  if (::kill(static_cast<pid_t>(info->pid), 0) != 0) return std::nullopt;
  return std::move(*info);
}

Result<void> run_daemon(const DaemonOptions& options) {
  OB_TRY(const StopSignals stop_signals, StopSignals::block());  // before any thread exists
  // Bounded memory (DESIGN.md: RSS under 256 MiB): gRPC hands block transfers' buffers from
  // its poller threads to ours, and glibc's default of 8 arenas a core keeps what each thread
  // freed in its own arena. Two arenas halved a download's peak RSS in fetch_bench (200 -> 95
  // MiB) and cost no throughput (it saved CPU: fewer fresh pages to fault in).
  ::mallopt(M_ARENA_MAX, 2);
  OB_TRY_VOID(setup_logging("open-bucket", options.log_level));

  OB_TRY(Home home, Home::open(options.home));
  OB_TRY(net::Identity identity, net::Identity::load_or_create(home.identity_key_path()));
  OB_TRY(std::string token, load_or_create_api_token(home.api_token_path()));
  auto engine = Engine::open(home);
  if (!engine) {
    if (auto other = running_daemon(home.dir()); other && other->pid != ::getpid()) {
      return fail(Errc::io, "a daemon is already running for ", home.dir().string(), " (pid ", other->pid, ")");
    }
    return std::unexpected(engine.error());
  }

  NetworkOptions network_options;
  network_options.listen_host = home.config().p2p_host;
  network_options.p2p_port = home.config().p2p_port;
  network_options.dht_port = home.config().dht_port;
  network_options.bootstrap = home.config().bootstrap;
  network_options.network_id = home.config().network_id;
  // Many daemons on one host (a local test network) would trip OpenDHT's per-peer rate limits.
  network_options.dht_rate_limits = home.config().p2p_host != "127.0.0.1";
  OB_TRY(std::unique_ptr<Network> network, Network::start(**engine, identity, network_options));
  // Seed 004: announce what is stored.
  if (auto files = (*engine)->list()) {
    for (const FileEntry& file : *files) (void)network->announce(file.cid);
  }

  // The tracker, when config.toml names one (the producer and consumer roles need it).
  std::optional<tracker::TrackerClient> tracker_client;
  if (!home.config().tracker.empty()) {
    OB_TRY(tracker::TrackerAddress tracker_address, tracker::TrackerAddress::parse(home.config().tracker));
    tracker_client = tracker::TrackerClient::connect(tracker_address, network->tls());
  }
  // ROLES: the consumer and producer are created here (issue 4).
  OB_TRY(std::unique_ptr<producer::Producer> producer_role,
         producer::Producer::open(home, **engine, network.get(), tracker_client));
  if (home.config().producer_start_on_startup || producer_role->was_started()) {
    if (auto started = producer_role->start(); !started) spdlog::error("producer: {}", started.error().message);
  }
  consumer::ConsumerOptions consumer_options;
  consumer_options.watcher.scan_interval = std::chrono::seconds(home.config().consumer_scan_interval_seconds);
  OB_TRY(std::unique_ptr<consumer::Consumer> consumer_role,
         consumer::Consumer::create(home, **engine, *network, tracker_client, home.config(), consumer_options));
  if (home.config().consumer_start_on_startup || consumer::Consumer::was_started(home.dir())) {
    if (auto started = consumer_role->start(); !started) spdlog::error("consumer: {}", started.error().message);
  }

  api::RestServerConfig config;
  config.network = network.get();
  if (tracker_client) {
    config.holders = [tracker = *tracker_client, network = network.get()](const Cid& cid) {
      return tracker::holder_clients(tracker, cid.to_string(), network->tls());
    };
  }
  config.token = std::move(token);
  config.peer_id = identity.peer_id().to_string();
  config.version = std::string(kVersion);
  config.port = home.config().api_port;
  config.coding_defaults = home.config().coding;
  config.quota_bytes = home.config().quota_bytes;
  // ROUTES: the roles' JSON endpoints are appended to config.routes here.
  for (api::JsonRoute& route : api::producer_routes(*producer_role)) config.routes.push_back(std::move(route));
  // Seed 000's consumer `account` must be an account of this home's wallet.
  const auto resolve_account = [wallet_dir = home.dir()](const std::string& which) -> Result<std::string> {
    OB_TRY(wallet::Account account, wallet::WalletStore(wallet_dir).find(which));
    return account.address.to_checksum();
  };
  for (api::JsonRoute& route : api::consumer_routes(*consumer_role, resolve_account)) config.routes.push_back(std::move(route));
  chain::ChainSettings chain_settings;
  chain_settings.rpc = home.config().chain_rpc;
  chain_settings.chain_id = home.config().chain_id;
  for (api::JsonRoute& route : api::wallet_routes(home.dir(), chain_settings)) config.routes.push_back(std::move(route));
  config.gauges = [producer = producer_role.get(), consumer = consumer_role.get()] {
    return role_gauges(*producer, *consumer);
  };
  OB_TRY(std::unique_ptr<api::RestServer> server, api::RestServer::bind(**engine, std::move(config)));

  const std::filesystem::path daemon_file = daemon_file_path(home.dir());
  const DaemonInfo info{static_cast<long>(::getpid()), server->port(), identity.peer_id().to_string(),
                        network->p2p_address(), network->dht_port()};
  OB_TRY_VOID(write_daemon_info(daemon_file, info));
  server->start();
  spdlog::info("open-bucket daemon {} for {} (pid {})", kVersion, home.dir().string(), info.pid);
  spdlog::info("peer ID {}", info.peer_id);
  spdlog::info("block exchange on {} (TLS), DHT on UDP {}, network ID {:#x}", info.p2p_address, info.dht_port,
               network_options.network_id);
  spdlog::info("REST API on http://127.0.0.1:{} (token in {})", info.api_port, home.api_token_path().string());

  Result<void> result;
  // The tick is how often the listener's health is looked at.
  while (!stop_signals.wait(std::chrono::milliseconds(200))) {
    if (!server->running()) {
      result = fail(Errc::io, "the REST API listener stopped unexpectedly");
      break;
    }
  }
  server->stop();
  server.reset();
  // STOP: the roles stop here, before the network and the engine go.
  producer_role->shutdown();
  producer_role.reset();
  consumer_role->shutdown();
  consumer_role.reset();
  network.reset();
  // Only our own file: a daemon that replaced it (ours was stale) keeps its own.
  if (auto current = read_daemon_info(daemon_file); current && current->pid == info.pid) {
    std::error_code ignored;
    std::filesystem::remove(daemon_file, ignored);
    (void)fileio::sync_dir(home.dir());
  }
  engine->reset();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return result;
}

}  // namespace ob
