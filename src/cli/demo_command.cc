// `open-bucket demo` (issues 5 and 11): the whole system on this machine, from one command.
//
// By default it runs on the storage market (docs/market.md): anvil on a loopback port, the
// tracker deploying the StorageMarket with short proof periods, every node funded from one of
// anvil's developer accounts (wallet import of the "test … junk" mnemonic), and a Basic-tier
// upload. Consumers fill and prove their slots on chain; the killed ones miss proofs, which the
// tracker marks missing until they are removed; the replacements fill the freed slots (repair);
// the download is confirmed and pays the consumers. The market's figures come from the
// contract's events and the receipts of their transactions. `--free` runs the Free tier, without
// a chain.
//
// In a fresh temporary directory it starts a tracker and N consumer daemons (real processes on
// loopback), then a producer daemon; uploads the files (default: this program's own binary)
// with k + m slots; kills m consumers with SIGKILL; downloads every file back and compares it
// byte for byte with the original; starts m replacement consumers (seed 002's redeployment)
// and waits until the tracker has repaired every file to its desired availability; prints a
// summary and stops every process it started, also on Ctrl-C or when it fails.
//
// Everything goes through the same interfaces a user has: processes of this binary, the
// daemons' REST API (seed 000's /v1/producer/* and /v1/consumer/*), the tracker's tracker.json.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "chain/chain_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "core/units.h"
#include "market/market_client.h"
#include "node/daemon.h"
#include "node/home.h"
#include "store/file_io.h"
#include "wallet/bip32.h"
#include "wallet/mnemonic.h"

namespace ob::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

struct DemoOptions {
  std::vector<std::string> files;
  std::uint32_t consumers = 6;
  std::uint32_t k = 4;
  std::uint32_t m = 2;
  bool json = false;
  bool keep = false;  // keep the directory (logs) afterwards
  std::uint32_t timeout_s = 180;
  bool free = false;  // the Free tier, without a chain
};

/// anvil's developer mnemonic: its accounts are funded at its start.
constexpr const char* kAnvilMnemonic = "test test test test test test test test test test test junk";
/// The passphrase of every demo account (a throwaway chain).
constexpr const char* kDemoPassphrase = "open bucket demo";
/// The demo's market: 10-block periods, as many to mark a missed proof (room for a busy
/// machine), a host removed after its second missed proof; a block mined every kBlockInterval,
/// so a period lasts 3 s.
constexpr std::uint32_t kProofPeriod = 10, kProofTimeout = 10, kMaxSlashes = 2;
constexpr std::chrono::milliseconds kBlockInterval{300};

/// anvil: $OB_ANVIL, else beside the sources this binary was built from (contracts/ or
/// tests/js/node_modules/.bin, where scripts/install-deps.sh puts it), else $PATH.
std::optional<std::filesystem::path> find_anvil() {
  std::error_code ec;
  const auto usable = [&](const std::filesystem::path& p) { return ::access(p.c_str(), X_OK) == 0; };
  if (const char* env = std::getenv("OB_ANVIL"); env != nullptr && usable(env)) return std::filesystem::path(env);
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (auto dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      for (const char* sub : {"contracts/node_modules/.bin/anvil", "tests/js/node_modules/.bin/anvil"}) {
        if (usable(dir / sub)) return dir / sub;
      }
    }
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string_view rest = path;
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::filesystem::path candidate = std::filesystem::path(rest.substr(0, colon)) / "anvil";
      if (!rest.substr(0, colon).empty() && usable(candidate)) return candidate;
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  return std::nullopt;
}

/// The market's figures, from the contract's events for the demo's request (MarketClient::events)
/// and the receipts of the transactions that emitted them.
struct MarketFigures {
  std::string request_id;
  std::uint32_t slots_filled = 0;   ///< first fills (SlotFilled, round 0)
  std::uint32_t repair_fills = 0;   ///< fills of a freed slot (SlotFilled, round > 0)
  std::uint32_t proofs_submitted = 0, proofs_missed = 0;
  std::uint32_t slashes = 0;        ///< missed proofs that took collateral
  std::uint32_t hosts_removed = 0;  ///< SlotFreed with removed
  wallet::U256 paid_to_consumers;   ///< PaymentSettled + SlotPaid's pay
  wallet::U256 refunded;            ///< RequestEnded's refund
  /// Median gasUsed per call. Each of these events is emitted by one function only:
  /// StorageRequested by requestStorage, SlotFilled by fillSlot, ProofSubmitted by submitProof,
  /// ProofMissed by markProofAsMissing.
  std::map<std::string, std::uint64_t> gas;

  nlohmann::json to_json() const {
    nlohmann::json gas_json = nlohmann::json::object();
    for (const char* f : {"requestStorage", "fillSlot", "submitProof", "markProofAsMissing"}) {
      const auto it = gas.find(f);
      gas_json[f] = it == gas.end() ? 0 : it->second;
    }
    return {{"requestId", request_id},
            {"slotsFilled", slots_filled},
            {"proofsSubmitted", proofs_submitted},
            {"proofsMissed", proofs_missed},
            {"slashes", slashes},
            {"hostsRemoved", hosts_removed},
            {"repairFills", repair_fills},
            {"paidToConsumersWei", paid_to_consumers.to_decimal()},
            {"refundedWei", refunded.to_decimal()},
            {"gas", gas_json}};
  }
};

std::uint64_t median(std::vector<std::uint64_t> values) {
  if (values.empty()) return 0;
  std::ranges::sort(values);
  return values[values.size() / 2];
}

/// Reads the figures of `request_id` from `market`'s events and their receipts.
Result<MarketFigures> read_market_figures(market::MarketClient& market, const std::string& request_id) {
  OB_TRY(const wallet::U256 id, [&]() -> Result<wallet::U256> {
    auto parsed = wallet::U256::from_decimal(request_id);
    if (!parsed) return fail(Errc::invalid_argument, "not a storage request ID: '", request_id, "'");
    return *parsed;
  }());
  OB_TRY(const std::vector<market::Event> events, market.events(0, id));
  MarketFigures figures;
  figures.request_id = request_id;
  std::map<std::string, std::vector<wallet::Hash32>> calls;  // function -> transactions
  const auto uint_field = [](const market::Event& e, const char* name) -> wallet::U256 {
    const auto it = e.fields.find(name);
    if (it == e.fields.end()) return {};
    return it->second.as_uint().value_or(wallet::U256{});
  };
  const auto add = [](wallet::U256& sum, const wallet::U256& more) { sum = sum.checked_add(more).value_or(sum); };
  for (const market::Event& e : events) {
    if (e.name == "StorageRequested") {
      calls["requestStorage"].push_back(e.transaction);
    } else if (e.name == "SlotFilled") {
      (uint_field(e, "round").is_zero() ? figures.slots_filled : figures.repair_fills)++;
      calls["fillSlot"].push_back(e.transaction);
    } else if (e.name == "ProofSubmitted") {
      ++figures.proofs_submitted;
      calls["submitProof"].push_back(e.transaction);
    } else if (e.name == "ProofMissed") {
      ++figures.proofs_missed;
      if (!uint_field(e, "slashed").is_zero()) ++figures.slashes;
      calls["markProofAsMissing"].push_back(e.transaction);
    } else if (e.name == "SlotFreed") {
      const auto it = e.fields.find("removed");
      if (it != e.fields.end() && it->second.as_bool().value_or(false)) ++figures.hosts_removed;
    } else if (e.name == "PaymentSettled") {
      add(figures.paid_to_consumers, uint_field(e, "amount"));
    } else if (e.name == "SlotPaid") {
      add(figures.paid_to_consumers, uint_field(e, "pay"));
    } else if (e.name == "RequestEnded") {
      add(figures.refunded, uint_field(e, "refund"));
    }
  }
  for (const auto& [function, transactions] : calls) {
    std::vector<std::uint64_t> gas;
    for (const wallet::Hash32& tx : transactions) {
      OB_TRY(const chain::Receipt receipt, market.chain().wait_for_receipt(tx, std::chrono::seconds(10)));
      gas.push_back(receipt.gas_used);
    }
    figures.gas[function] = median(std::move(gas));
  }
  return figures;
}


/// One process the demo started.
struct Child {
  std::string name;
  pid_t pid = -1;
  std::filesystem::path home;
};

/// The demo's processes and directory; everything is stopped and removed when it goes.
class Cluster {
 public:
  explicit Cluster(std::filesystem::path dir, bool keep) : dir_(std::move(dir)), keep_(keep) {}
  ~Cluster() {
    for (Child& child : children_) {
      if (child.pid > 0) ::kill(child.pid, SIGTERM);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (Child& child : children_) {
      if (child.pid <= 0) continue;
      while (::waitpid(child.pid, nullptr, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          ::kill(child.pid, SIGKILL);
          ::waitpid(child.pid, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::error_code ec;
    if (!keep_) std::filesystem::remove_all(dir_, ec);
  }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }

  /// Starts `open-bucket args...`, logging to <dir>/<name>.log.
  Result<Child*> spawn(const std::string& name, const std::filesystem::path& home, std::vector<std::string> args) {
    OB_TRY(pid_t pid, spawn_self(args, dir_ / (name + ".log"), /*tied=*/true));
    children_.push_back({name, pid, home});
    return &children_.back();
  }

  /// Starts `program args...` (not this binary), logging to <dir>/<name>.log.
  Result<Child*> spawn_program(const std::string& name, const std::filesystem::path& program,
                               std::vector<std::string> args) {
    OB_TRY(pid_t pid, cli::spawn_program(program, args, dir_ / (name + ".log"), /*tied=*/true));
    children_.push_back({name, pid, {}});
    return &children_.back();
  }

  /// Runs `open-bucket args...` to its end (a setup command); its output goes to <dir>/<name>.log.
  /// Errors (io): it failed, naming the log.
  Result<void> run(const std::string& name, std::vector<std::string> args) {
    OB_TRY(pid_t pid, spawn_self(args, dir_ / (name + ".log"), /*tied=*/true));
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return fail(Errc::io, "`open-bucket ", args.size() > 2 ? args[2] : "", " ...` failed; see ",
                  (dir_ / (name + ".log")).string());
    }
    return {};
  }

  /// SIGKILL, as a machine that goes away.
  void kill_hard(Child& child) {
    if (child.pid <= 0) return;
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    child.pid = -1;
  }

  /// Fails when a child has exited by itself (its log's last line says why).
  Result<void> check_alive() {
    for (Child& child : children_) {
      if (child.pid <= 0) continue;
      if (::waitpid(child.pid, nullptr, WNOHANG) == child.pid) {
        child.pid = -1;
        return fail(Errc::io, child.name, " exited unexpectedly; see ", (dir_ / (child.name + ".log")).string());
      }
    }
    return {};
  }

  std::deque<Child>& children() noexcept { return children_; }

 private:
  std::filesystem::path dir_;
  bool keep_;
  std::deque<Child> children_;  // deque: Child pointers stay valid
};

/// Polls `ready` every 100 ms until it yields a value, `timeout` passes, Ctrl-C, or a child dies.
template <typename F>
auto wait_until(Cluster& cluster, std::chrono::seconds timeout, const std::string& what, F&& ready)
    -> decltype(ready()) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto result = ready();
    if (result) return result;
    if (g_interrupted) return fail(Errc::io, "interrupted");
    OB_TRY_VOID(cluster.check_alive());
    if (Clock::now() > deadline) {
      return fail(Errc::io, "timed out after ", timeout.count(), " s waiting for ", what, " (",
                  result.error().message, ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

/// A node home in the demo's network, pointed at the tracker; with `chain_rpc`, on that chain
/// and asking 1 wei per byte-second for paid slots.
Result<void> init_node(const std::filesystem::path& home, const std::string& tracker, std::uint32_t network_id,
                       const DemoOptions& options, const std::string& chain_rpc) {
  NodeConfig config;
  config.api_port = 0;
  config.p2p_port = 0;
  config.dht_port = 0;
  config.network_id = network_id;
  config.tracker = tracker;
  config.coding.k = options.k;
  config.coding.m = options.m;
  config.default_availability = options.m + 1;
  config.consumer_limit_bytes = 100ull * 1000 * 1000 * 1000;
  config.chain_rpc = chain_rpc;
  if (!chain_rpc.empty()) config.consumer_price_wei = 1;
  OB_TRY_VOID(config.coding.validate());
  OB_TRY(InitResult ignored, Home::init(home, false, config));
  (void)ignored;
  return {};
}

/// Starts a daemon for `home` and returns a client once its API answers.
Result<api::RestClient> start_daemon(Cluster& cluster, const std::string& name, const std::filesystem::path& home) {
  OB_TRY(Child * child, cluster.spawn(name, home, {"--home", home.string(), "daemon"}));
  (void)child;
  OB_TRY(Home opened, Home::open(home));
  return wait_until(cluster, std::chrono::seconds(30), name + "'s REST API", [&]() -> Result<api::RestClient> {
    OB_TRY(std::optional<api::RestClient> client, api::RestClient::connect(opened));
    if (!client) return fail(Errc::not_found, "not answering yet");
    return std::move(*client);
  });
}

/// The listing entry of `id` in GET /v1/producer/files.
Result<nlohmann::json> file_entry(api::RestClient& producer, const std::string& id) {
  OB_TRY(nlohmann::json files, producer.get_json("/v1/producer/files"));
  if (files.is_object() && files.contains("files")) files = files["files"];
  if (!files.is_array()) return fail(Errc::corrupt, "GET /v1/producer/files is not a list");
  for (const auto& file : files) {
    if (file.is_object() && file.value("id", "") == id) return file;
  }
  return fail(Errc::not_found, "file ", id, " is not listed");
}

std::uint32_t json_u32(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<std::uint32_t>() : 0;
}

/// Waits until file `id` is UPLOADED at its desired availability; prints progress on a TTY.
Result<void> wait_uploaded(Cluster& cluster, api::RestClient& producer, const std::string& id,
                           std::chrono::seconds timeout, bool quiet) {
  std::string last;
  return wait_until(cluster, timeout, "file " + id + " to be UPLOADED", [&]() -> Result<void> {
    OB_TRY(nlohmann::json file, file_entry(producer, id));
    const std::string status = file.value("status", "");
    const std::string line = status + ", availability " + std::to_string(json_u32(file, "actualAvailability")) + "/" +
                             std::to_string(json_u32(file, "availability"));
    if (!quiet && line != last) {
      std::cerr << "  " << id.substr(0, 16) << "…: " << line << "\n";
      last = line;
    }
    if (status == "UPLOADED" && json_u32(file, "actualAvailability") >= json_u32(file, "availability")) return {};
    return fail(Errc::not_found, line);
  });
}

/// True when the two files have the same bytes (streamed, 1 MiB at a time).
Result<bool> same_bytes(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return fail(Errc::io, "cannot open ", a.string(), " or ", b.string());
  std::vector<char> ba(1 << 20), bb(1 << 20);
  for (;;) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount()) return false;
    if (!std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
    if (fa.gcount() == 0) return true;
  }
}

double mb_per_s(std::uint64_t bytes, double seconds) { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct FileResult {
  std::filesystem::path path;
  std::string id;
  std::uint64_t size = 0;
  double upload_s = 0;
  double download_s = 0;
  bool verified = false;
  std::uint32_t availability_before = 0, availability_degraded = 0, availability_after = 0;
};

int run_demo(DemoOptions options) {
  if (options.consumers < options.k + options.m) {
    return report(Error{Errc::invalid_argument, "--consumers must be at least k + m = " +
                                                    std::to_string(options.k + options.m) + " (one slot per consumer)"});
  }
  if (options.files.empty()) options.files.push_back(std::filesystem::read_symlink("/proc/self/exe").string());
  std::vector<FileResult> results;
  for (const std::string& f : options.files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(f, ec);
    if (ec || !std::filesystem::is_regular_file(f, ec)) {
      return report(Error{Errc::invalid_argument, "cannot read " + f + ": not a regular file"});
    }
    results.push_back({std::filesystem::absolute(f), {}, size});
  }
  std::optional<std::filesystem::path> anvil_path;
  if (!options.free) {
    anvil_path = find_anvil();
    if (!anvil_path) {
      return report(Error{Errc::not_found,
                          "the market demo needs anvil (a local Ethereum node): install it with scripts/install-deps.sh "
                          "(or put it on $PATH, or name it in $OB_ANVIL), or run `open-bucket demo --free` for the "
                          "demo without the market"});
    }
  }
  char dir_template[] = "/tmp/open-bucket-demo-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return report(Error{Errc::io, "cannot create a temporary directory"});
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  Cluster cluster(dir_template, options.keep);
  const bool quiet = options.json;
  auto say = [&](const std::string& line) {
    if (!quiet) std::cerr << line << "\n";
  };
  std::optional<MarketFigures> figures;
  std::string chain_rpc;  // the demo's anvil; empty with --free
  std::atomic<bool> mining{false};
  std::thread miner;
  struct StopMiner {
    std::atomic<bool>& mining;
    std::thread& miner;
    ~StopMiner() {
      mining = false;
      if (miner.joinable()) miner.join();
    }
  } stop_miner{mining, miner};
  const auto step = [&]() -> Result<void> {
    const auto timeout = std::chrono::seconds(options.timeout_s);
    say("Open Bucket demo in " + cluster.dir().string());
    const std::filesystem::path mnemonic_file = cluster.dir() / "mnemonic.txt";
    const std::filesystem::path password_file = cluster.dir() / "passphrase.txt";
    std::uint32_t next_account = 1;  // anvil's developer account 0 is the tracker's
    if (!options.free) {
      // 0. The chain: anvil on a free loopback port, with an account for every process.
      OB_TRY(Child * anvil, cluster.spawn_program(
                                "anvil", *anvil_path,
                                {"--host", "127.0.0.1", "--port", "0", "--accounts",
                                 std::to_string(options.consumers + options.m + 2)}));
      (void)anvil;
      OB_TRY(chain_rpc, wait_until(cluster, std::chrono::seconds(30), "anvil", [&]() -> Result<std::string> {
               OB_TRY(Bytes log, fileio::read_file(cluster.dir() / "anvil.log", 1 << 20));
               const std::string text(as_chars(log));
               const std::string marker = "Listening on 127.0.0.1:";
               const auto at = text.find(marker);
               if (at == std::string::npos) return fail(Errc::not_found, "not listening yet");
               std::size_t end = at + marker.size();
               while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
               return "http://127.0.0.1:" + text.substr(at + marker.size(), end - at - marker.size());
             }));
      say("anvil " + chain_rpc);
      OB_TRY_VOID(fileio::write_file_atomic(mnemonic_file, as_bytes(std::string(kAnvilMnemonic) + "\n"), 0600));
      OB_TRY_VOID(fileio::write_file_atomic(password_file, as_bytes(std::string(kDemoPassphrase) + "\n"), 0600));
      // The consumers' daemons unlock their accounts with it (they inherit it).
      ::setenv("OPEN_BUCKET_PASSWORD", kDemoPassphrase, 1);
      // anvil mines a block per transaction; one more every kBlockInterval keeps periods turning.
      chain::ChainSettings settings;
      settings.rpc = chain_rpc;
      OB_TRY(chain::ChainClient mine_client, chain::ChainClient::connect(settings));
      mining = true;
      miner = std::thread([&mining, client = std::move(mine_client)]() mutable {
        while (mining) {
          (void)client.rpc().call("anvil_mine", nlohmann::json::array({"0x1"}));
          std::this_thread::sleep_for(kBlockInterval);
        }
      });
    }
    // Imports anvil's next developer account into `home`'s wallet as its default.
    const auto fund = [&](const std::string& name, const std::filesystem::path& home) -> Result<void> {
      if (options.free) return {};
      const std::string index = std::to_string(next_account++);
      OB_TRY_VOID(cluster.run(name + "-wallet", {"--home", home.string(), "wallet", "import", "--mnemonic-file",
                                                 mnemonic_file.string(), "--index", index, "--name", "demo",
                                                 "--password-file", password_file.string()}));
      OB_TRY_VOID(cluster.run(name + "-wallet", {"--home", home.string(), "wallet", "default", "demo"}));
      if (!name.starts_with("consumer-")) return {};
      // The account a consumer is paid to, told to the tracker at registration by its address.
      OB_TRY(const wallet::Mnemonic mnemonic, wallet::Mnemonic::parse(kAnvilMnemonic));
      OB_TRY(const wallet::PrivateKey key, wallet::ethereum_account_key(mnemonic, next_account - 1));
      OB_TRY(Home opened, Home::open(home));
      NodeConfig config = opened.config();
      config.consumer_account = key.address().to_checksum();
      return save_config(home, config);
    };
    // 1. The tracker.
    const std::filesystem::path tracker_home = cluster.dir() / "tracker";
    std::vector<std::string> tracker_args{"--home", tracker_home.string(), "tracker",
                                          "--listen", "127.0.0.1:0",
                                          "--heartbeat-ms", "300",
                                          "--offline-after-ms", "2000",
                                          "--audit-interval-ms", "1000",
                                          "--repair-tick-ms", "250"};
    if (!options.free) {
      OB_TRY_VOID(cluster.run("tracker-init", {"--home", tracker_home.string(), "init", "-d", "--rpc", chain_rpc,
                                               "--mnemonic-file", mnemonic_file.string(), "--password-file",
                                               password_file.string(), "--api-port", "0", "--p2p-port", "0",
                                               "--dht-port", "0"}));
      tracker_args.insert(tracker_args.end(), {"--chain-rpc", chain_rpc,
                                               "--deploy-market",
                                               "--password-file", password_file.string(),
                                               "--proof-period", std::to_string(kProofPeriod),
                                               "--proof-timeout", std::to_string(kProofTimeout),
                                               "--max-slashes", std::to_string(kMaxSlashes)});
    }
    OB_TRY(Child * tracker, cluster.spawn("tracker", tracker_home, tracker_args));
    (void)tracker;
    OB_TRY(std::string tracker_address,
           wait_until(cluster, std::chrono::seconds(30), "the tracker", [&]() -> Result<std::string> {
             OB_TRY(Bytes text, fileio::read_file(tracker_home / "tracker.json", 64 * 1024));
             const auto j = nlohmann::json::parse(as_chars(text), nullptr, false);
             if (!j.is_object() || !j.contains("tracker") || !j["tracker"].is_string()) {
               return fail(Errc::corrupt, "tracker.json incomplete");
             }
             return j["tracker"].get<std::string>();
           }));
    say("tracker " + tracker_address);
    std::uint32_t network_id = std::random_device{}() | 0x10000u;

    // 2. Consumers.
    std::vector<std::pair<std::string, std::filesystem::path>> consumers;
    const auto add_consumer = [&](std::uint32_t i) -> Result<void> {
      const std::string name = "consumer-" + std::to_string(i);
      const std::filesystem::path home = cluster.dir() / name;
      OB_TRY_VOID(init_node(home, tracker_address, network_id, options, chain_rpc));
      OB_TRY_VOID(fund(name, home));
      OB_TRY(api::RestClient client, start_daemon(cluster, name, home));
      OB_TRY(nlohmann::json reply, client.post_json("/v1/consumer/start", nlohmann::json::object()));
      (void)reply;
      consumers.emplace_back(name, home);
      return {};
    };
    for (std::uint32_t i = 1; i <= options.consumers; ++i) OB_TRY_VOID(add_consumer(i));
    say(std::to_string(options.consumers) + " consumers started");

    // 3. The producer; uploads.
    const std::filesystem::path producer_home = cluster.dir() / "producer";
    OB_TRY_VOID(init_node(producer_home, tracker_address, network_id, options, chain_rpc));
    OB_TRY_VOID(fund("producer", producer_home));
    OB_TRY(api::RestClient producer, start_daemon(cluster, "producer", producer_home));
    OB_TRY(nlohmann::json started, producer.post_json("/v1/producer/start", nlohmann::json::object()));
    (void)started;
    for (FileResult& file : results) {
      say("uploading " + file.path.string() + " (" + format_size(file.size) + ", k=" + std::to_string(options.k) +
          ", m=" + std::to_string(options.m) + (options.free ? ", Free tier)" : ", Basic tier, 1 day at 1 wei per byte-second)"));
      const auto t0 = Clock::now();
      nlohmann::json body{{"path", file.path.string()}, {"k", options.k}, {"m", options.m}};
      if (!options.free) {
        body.update({{"tier", "basic"}, {"duration", "1d"}, {"price", "1"}, {"passphrase", kDemoPassphrase}});
      }
      OB_TRY(nlohmann::json reply, producer.post_json("/v1/producer/files/upload", body));
      if (!reply.contains("id") || !reply["id"].is_string()) return fail(Errc::corrupt, "upload reply has no id");
      file.id = reply["id"].get<std::string>();
      OB_TRY_VOID(wait_uploaded(cluster, producer, file.id, timeout, quiet));
      file.upload_s = seconds_since(t0);
      OB_TRY(nlohmann::json entry, file_entry(producer, file.id));
      file.availability_before = json_u32(entry, "actualAvailability");
    }

    // 4. m consumers go away. Each file then loses the slots those consumers held, which the
    //    demo asks them for first, so it can wait until the tracker has seen the whole loss.
    std::map<std::string, std::uint32_t> slots_lost;  // file ID -> slots on the killed consumers
    std::uint32_t killed = 0;
    for (Child& child : cluster.children()) {
      if (killed == options.m) break;
      if (!child.name.starts_with("consumer-") || child.pid <= 0) continue;
      OB_TRY(Home home, Home::open(child.home));
      OB_TRY(std::optional<api::RestClient> client, api::RestClient::connect(home));
      if (!client) return fail(Errc::io, child.name, "'s REST API does not answer");
      OB_TRY(nlohmann::json held, client->get_json("/v1/consumer/slots"));
      for (const auto& slot : held.value("slots", nlohmann::json::array())) {
        if (slot.is_object() && slot.contains("fileId") && slot["fileId"].is_string()) {
          ++slots_lost[slot["fileId"].get<std::string>()];
        }
      }
      cluster.kill_hard(child);
      say("killed " + child.name + " (SIGKILL)");
      ++killed;
    }
    for (FileResult& file : results) {
      const std::uint32_t lost = slots_lost[file.id];
      const std::uint32_t expected = file.availability_before > lost ? file.availability_before - lost : 0;
      OB_TRY_VOID(wait_until(cluster, timeout, "the tracker to notice", [&]() -> Result<void> {
        OB_TRY(nlohmann::json entry, file_entry(producer, file.id));
        file.availability_degraded = json_u32(entry, "actualAvailability");
        if (lost > 0 && entry.value("status", "") == "UPLOADED") return fail(Errc::not_found, "still UPLOADED");
        if (file.availability_degraded > expected) return fail(Errc::not_found, "not every loss seen yet");
        return {};
      }));
      say("  " + file.id.substr(0, 16) + "…: " + (lost > 0 ? "DEGRADED" : "untouched") + ", availability " +
          std::to_string(file.availability_degraded) + " (" + std::to_string(lost) + " slot(s) lost)");
    }

    // 5. Everything comes back, byte for byte.
    const std::filesystem::path down = cluster.dir() / "downloads";
    std::filesystem::create_directories(down);
    for (FileResult& file : results) {
      const auto t0 = Clock::now();
      OB_TRY(nlohmann::json reply, producer.post_json("/v1/producer/files/download",
                                                      {{"fileId", file.id}, {"destination", down.string()}}));
      (void)reply;
      const std::filesystem::path out = down / file.path.filename();
      OB_TRY_VOID(wait_until(cluster, timeout, "the download of " + file.id, [&]() -> Result<void> {
        std::error_code ec;
        if (std::filesystem::file_size(out, ec) == file.size && !ec) return {};
        return fail(Errc::not_found, "not there yet");
      }));
      file.download_s = seconds_since(t0);
      OB_TRY(file.verified, same_bytes(file.path, out));
      if (!file.verified) return fail(Errc::corrupt, out.string(), " differs from ", file.path.string());
      say("downloaded " + file.path.filename().string() + ": identical to the original");
    }

    // 6. Replacement consumers join; the tracker repairs.
    for (std::uint32_t i = 0; i < options.m; ++i) OB_TRY_VOID(add_consumer(options.consumers + 1 + i));
    say(std::to_string(options.m) + " replacement consumers started; waiting for repair");
    for (FileResult& file : results) {
      OB_TRY_VOID(wait_uploaded(cluster, producer, file.id, timeout, quiet));
      OB_TRY(nlohmann::json entry, file_entry(producer, file.id));
      file.availability_after = json_u32(entry, "actualAvailability");
    }
    if (options.free) return {};

    // 7. The market's figures, for the first file's storage request, once the download's
    //    payout is on chain (the producer confirms it after the download, asynchronously).
    OB_TRY(nlohmann::json entry, file_entry(producer, results.front().id));
    const std::string request_id = entry.value("requestId", "");
    chain::ChainSettings settings;
    settings.rpc = chain_rpc;
    OB_TRY(chain::ChainClient chain, chain::ChainClient::connect(settings));
    OB_TRY(Bytes tracker_json, fileio::read_file(tracker_home / "tracker.json", 64 * 1024));
    const auto j = nlohmann::json::parse(as_chars(tracker_json), nullptr, false);
    OB_TRY(const wallet::Address market_address,
           wallet::Address::parse(j.is_object() && j.contains("market") && j["market"].is_object()
                                      ? j["market"].value("address", "")
                                      : ""));
    OB_TRY(market::MarketClient market, market::MarketClient::open(std::move(chain), market_address));
    OB_TRY(figures, wait_until(cluster, timeout, "the download's payout on chain", [&]() -> Result<MarketFigures> {
             OB_TRY(MarketFigures read, read_market_figures(market, request_id));
             if (read.paid_to_consumers.is_zero()) return fail(Errc::not_found, "nothing paid yet");
             return read;
           }));
    return {};
  };
  const Result<void> outcome = step();

  nlohmann::json summary = nlohmann::json::array();
  bool all_ok = outcome.has_value();
  for (const FileResult& file : results) {
    all_ok = all_ok && file.verified && file.availability_after >= options.m + 1;
    summary.push_back({{"file", file.path.string()},
                       {"id", file.id},
                       {"bytes", file.size},
                       {"uploadSeconds", file.upload_s},
                       {"uploadMBps", mb_per_s(file.size, file.upload_s)},
                       {"downloadSeconds", file.download_s},
                       {"downloadMBps", mb_per_s(file.size, file.download_s)},
                       {"verified", file.verified},
                       {"availabilityBefore", file.availability_before},
                       {"availabilityAfterLoss", file.availability_degraded},
                       {"availabilityAfterRepair", file.availability_after}});
  }
  if (!options.free) all_ok = all_ok && figures.has_value();
  if (options.json) {
    nlohmann::json out{{"ok", all_ok},
                       {"consumers", options.consumers},
                       {"k", options.k},
                       {"m", options.m},
                       {"files", summary},
                       {"error", outcome ? "" : outcome.error().message}};
    if (!options.free) out["market"] = figures ? figures->to_json() : nlohmann::json(nullptr);
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("\n%-28s %10s %9s %9s %9s %s\n", "file", "size", "up MB/s", "down MB/s", "verified",
                "availability (before/after loss/after repair)");
    for (const FileResult& file : results) {
      std::printf("%-28s %10s %9.1f %9.1f %9s %u/%u/%u\n", file.path.filename().string().substr(0, 28).c_str(),
                  format_size(file.size).c_str(), mb_per_s(file.size, file.upload_s),
                  mb_per_s(file.size, file.download_s), file.verified ? "yes" : "NO", file.availability_before,
                  file.availability_degraded, file.availability_after);
    }
    if (figures) {
      const auto gas = figures->to_json()["gas"];
      std::printf("\nstorage market, request %s (Basic tier):\n"
                  "  slots filled %u, proofs submitted %u, proofs missed %u (%u slashes, %u hosts removed), "
                  "repair fills %u\n"
                  "  paid to consumers %s wei, refunded %s wei\n"
                  "  median gas: requestStorage %s, fillSlot %s, submitProof %s, markProofAsMissing %s\n",
                  figures->request_id.c_str(), figures->slots_filled, figures->proofs_submitted,
                  figures->proofs_missed, figures->slashes, figures->hosts_removed, figures->repair_fills,
                  figures->paid_to_consumers.to_decimal().c_str(), figures->refunded.to_decimal().c_str(),
                  gas["requestStorage"].dump().c_str(), gas["fillSlot"].dump().c_str(),
                  gas["submitProof"].dump().c_str(), gas["markProofAsMissing"].dump().c_str());
    }
    if (all_ok) {
      std::printf("\nEvery file was verified byte for byte after %u of %u consumers were lost, and availability was "
                  "restored to %u.\n",
                  options.m, options.consumers, options.m + 1);
      if (figures) {
        std::printf("On chain: the lost consumers were slashed and removed, their slots refilled by the "
                    "replacements, and the download paid the consumers.\n");
      }
    }
  }
  if (!outcome) {
    if (options.keep) std::cerr << "logs are in " << cluster.dir().string() << "\n";
    return report(outcome.error());
  }
  return all_ok ? 0 : kExitError;
}

}  // namespace

CommandRunner add_demo_command(CLI::App& app, const std::optional<std::string>&) {
  auto options = std::make_shared<DemoOptions>();
  auto* demo = app.add_subcommand(
      "demo",
      "Run a whole network here: tracker, consumers, producer and a local chain; a paid upload, lose m "
      "consumers (slashed on chain), download (paid), repair (refilled on chain)");
  demo->add_option("FILE", options->files, "Files to upload (default: this program's binary)");
  demo->add_option("--consumers", options->consumers, "Consumers to start (default 6, at least k + m)");
  demo->add_option("--k", options->k, "Data slots per file (default 4)")->check(CLI::Range(1, 254));
  demo->add_option("--m", options->m, "Parity slots per file, and consumers to kill (default 2)")->check(CLI::Range(0, 254));
  demo->add_option("--timeout", options->timeout_s, "Seconds to wait for each step (default 180)");
  demo->add_flag("--keep", options->keep, "Keep the demo's directory and logs afterwards");
  demo->add_flag("--free", options->free, "The Free tier, without the storage market (no anvil needed)");
  demo->add_flag("--json", options->json, "Print the summary as JSON");
  return [demo, options]() -> std::optional<int> {
    if (!demo->parsed()) return std::nullopt;
    return run_demo(*options);
  };
}

}  // namespace ob::cli
