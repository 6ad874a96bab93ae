// `open-bucket tracker`: runs the tracker (tracker/tracker.h, docs/tracker.md) in the foreground
// until SIGTERM or SIGINT.
#include <memory>

#include "cli/commands.h"
#include "node/home.h"
#include "tracker/tracker.h"

namespace ob::cli {
namespace {

struct TrackerFlags {
  std::string listen = "127.0.0.1:7070";
  std::optional<std::string> db;
  std::string log_level = "info";
  std::uint32_t heartbeat_ms = 5000;
  std::optional<std::uint32_t> offline_after_ms;
  std::uint32_t audit_interval_ms = 60000;
  std::optional<std::uint32_t> unanswered_after_ms;
  std::uint32_t repair_tick_ms = 1000;
  std::string metrics = "127.0.0.1:0";
  std::string chain_rpc;
  std::optional<std::string> market;
  bool deploy_market = false;
  std::string account;
  std::optional<std::string> password_file;
  market::MarketParams market_params;  ///< for --deploy-market
  int max_slashes = market::MarketParams{}.max_slashes;  // CLI11 reads an int, not a uint8_t
};

int cmd_tracker(const std::optional<std::string>& home_flag, const TrackerFlags& flags) {
  auto home = resolve_home(home_flag);
  if (!home) return report(home.error());
  tracker::TrackerOptions options;
  options.home = *home;
  options.listen = flags.listen;
  if (flags.db) options.db = std::filesystem::path(*flags.db);
  options.log_level = flags.log_level;
  options.heartbeat_ms = flags.heartbeat_ms;
  options.offline_after_ms = flags.offline_after_ms;
  options.audit_interval_ms = flags.audit_interval_ms;
  options.unanswered_after_ms = flags.unanswered_after_ms;
  options.repair_tick_ms = flags.repair_tick_ms;
  options.metrics_listen = flags.metrics;
  options.chain_rpc = flags.chain_rpc;
  options.market = flags.market;
  options.deploy_market = flags.deploy_market;
  options.account = flags.account;
  options.market_params = flags.market_params;
  options.market_params.max_slashes = static_cast<std::uint8_t>(flags.max_slashes);
  if (!flags.chain_rpc.empty()) {
    auto passphrase = read_passphrase(flags.password_file, "Passphrase of the tracker's account", false);
    if (!passphrase) return report(passphrase.error());
    options.passphrase = std::move(*passphrase);
  }
  if (auto ok = tracker::run_tracker(options); !ok) return report(ok.error());
  return 0;
}

}  // namespace

CommandRunner add_tracker_commands(CLI::App& app, const std::optional<std::string>& home) {
  auto flags = std::make_shared<TrackerFlags>();
  auto* tracker = app.add_subcommand(
      "tracker",
      "Run a tracker: places slots on consumers, audits them and repairs files (until SIGTERM or SIGINT); "
      "prints `tracker PEERID@host:port` once listening");
  tracker->add_option("--listen", flags->listen,
                      "Address to serve on, host:port (default 127.0.0.1:7070; port 0 = any)");
  tracker->add_option("--db", flags->db, "SQLite database file (default <home>/tracker.db)");
  tracker->add_option("--log-level", flags->log_level, "Log detail on stderr (default info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  tracker->add_option("--heartbeat-ms", flags->heartbeat_ms, "Heartbeat interval told to consumers (default 5000)")
      ->check(CLI::Range(1u, 3'600'000u));
  tracker->add_option("--offline-after-ms", flags->offline_after_ms,
                      "A consumer silent this long goes offline and its slots are repaired (default 3 x heartbeat)")
      ->check(CLI::Range(1u, 86'400'000u));
  tracker->add_option("--audit-interval-ms", flags->audit_interval_ms,
                      "Every proven slot is challenged again within this time (default 60000; 0 = no audits: "
                      "slots are still proven once before they count)")
      ->check(CLI::Range(0u, 86'400'000u));
  tracker->add_option("--unanswered-after-ms", flags->unanswered_after_ms,
                      "A slot whose consumer answers no challenge for this long stops counting and is repaired "
                      "elsewhere (default: the larger of --offline-after-ms and 10000)")
      ->check(CLI::Range(1u, 86'400'000u));
  tracker->add_option("--repair-tick-ms", flags->repair_tick_ms,
                      "Time between maintenance passes: offline consumers, placement, repair (default 1000)")
      ->check(CLI::Range(1u, 3'600'000u));
  tracker->add_option("--metrics", flags->metrics,
                      "Serve GET /metrics (Prometheus) on host:port (default 127.0.0.1:0, any free port, "
                      "written to tracker.json); off = none");
  tracker->add_option("--chain-rpc", flags->chain_rpc,
                      "Ethereum JSON-RPC URL of the storage market for the Basic and Premium tiers "
                      "(default: none, Free tier only)");
  auto* market = tracker->add_option("--market", flags->market, "Address of the StorageMarket contract to use");
  auto* deploy = tracker->add_flag("--deploy-market", flags->deploy_market,
                                   "Deploy the StorageMarket built into this binary (once per chain: the address is "
                                   "kept in <home>/market.json and reused)");
  market->excludes(deploy);
  // The contract checks them at deployment (InvalidConfig); the defaults suit a local anvil.
  tracker->add_option("--proof-period", flags->market_params.proof_period,
                      "With --deploy-market: blocks per proof period (default 10)")
      ->check(CLI::Range(1, 255));
  tracker->add_option("--proof-timeout", flags->market_params.proof_timeout,
                      "With --deploy-market: blocks after a period during which its missed proofs can be marked "
                      "(default 5; period + timeout <= 256)")
      ->check(CLI::Range(1, 255));
  tracker->add_option("--max-slashes", flags->max_slashes,
                      "With --deploy-market: missed proofs after which a host is removed and its slot repaired "
                      "(default 3)")
      ->check(CLI::Range(1, 10));
  tracker->add_option("--account", flags->account,
                      "Wallet account of the tracker (pays the deployment; named to consumers as the market's placer; default: the "
                      "wallet's default)");
  tracker->add_option("--password-file", flags->password_file,
                      "File whose first line is the account's passphrase (else $OPEN_BUCKET_PASSWORD or a prompt)");
  return [tracker, flags, &home]() -> std::optional<int> {
    if (!tracker->parsed()) return std::nullopt;
    return cmd_tracker(home, *flags);
  };
}

}  // namespace ob::cli
