#include "node/home.h"


#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <toml++/toml.h>

#include "coding/crypto.h"
#include "net/identity.h"
#include "store/file_io.h"
#include "wallet/keys.h"

namespace ob {
namespace {

constexpr std::string_view kConfigFile = "config.toml";
constexpr std::string_view kMasterKeyFile = "keys/master.key";
constexpr std::size_t kApiTokenBytes = 32;
constexpr std::uint32_t kMaxScanIntervalSeconds = 24 * 60 * 60;  // a day: any longer and the scan is no net

/// A TOML basic string: quoted, with backslash and quote escaped (read_string refuses control
/// characters, so nothing else needs escaping).
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

Result<bool> read_bool(const toml::table& table, std::string_view section, std::string_view key, bool fallback) {
  const toml::node_view node = table[section][key];
  if (!node) return fallback;
  const auto value = node.value_exact<bool>();  // value<bool>() would accept 1 and 0
  if (!value) return fail(Errc::invalid_argument, "config.toml: [", section, "] ", key, " must be true or false");
  return *value;
}

Result<std::string> read_string(const toml::table& table, std::string_view section, std::string_view key,
                                std::size_t max_size) {
  const toml::node_view node = table[section][key];
  if (!node) return std::string();
  const auto value = node.value_exact<std::string>();
  if (!value || value->size() > max_size ||
      std::ranges::any_of(*value, [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return fail(Errc::invalid_argument, "config.toml: [", section, "] ", key, " must be a string of at most ",
                max_size, " printable bytes");
  }
  return *value;
}

template <typename T>
Result<T> read_integer(const toml::table& table, std::string_view section, std::string_view key,
                       T fallback) {
  const toml::node_view node = table[section][key];
  if (!node) return fallback;
  const auto value = node.value_exact<std::int64_t>();  // no silent conversion from floats
  if (!value || *value < 0 || static_cast<std::uint64_t>(*value) > std::numeric_limits<T>::max()) {
    return fail(Errc::invalid_argument, "config.toml: [", section, "] ", key, " must be an integer from 0 to ",
                std::numeric_limits<T>::max());
  }
  return static_cast<T>(*value);
}

}  // namespace

std::string NodeConfig::to_toml() const {
  std::ostringstream out;
  out << "# Open Bucket node configuration (docs/cli.md describes every key).\n\n"
      << "[coding]\n"
      << "# Defaults for new files: k data + m parity blocks per stripe; any k of the k + m slots\n"
      << "# give the file back. block_size in bytes: a multiple of 1024 from 4096 to 4194304.\n"
      << "k = " << coding.k << "\n"
      << "m = " << coding.m << "\n"
      << "block_size = " << coding.block_size << "\n\n"
      << "[storage]\n"
      << "# Block store quota in bytes (0 = unlimited).\n"
      << "quota_bytes = " << quota_bytes << "\n"
      << "# fsync every write before it is acknowledged. Turn off only for throwaway test data.\n"
      << "sync = " << (sync ? "true" : "false") << "\n\n"
      << "[api]\n"
      << "# TCP port of the daemon's REST API, bound to 127.0.0.1 only (0 = any free port; the\n"
      << "# port in use is written to daemon.json). Every request needs keys/api.token.\n"
      << "port = " << api_port << "\n\n"
      << "[p2p]\n"
      << "# Where peers reach this node: block exchange (TCP, TLS) and the DHT (UDP); 0 = any free\n"
      << "# port (the ports in use are written to daemon.json).\n"
      << "host = " << toml_string(p2p_host) << "\n"
      << "port = " << p2p_port << "\n"
      << "dht_port = " << dht_port << "\n"
      << "# DHT nodes to join at start, as \"host:port\" strings.\n"
      << "bootstrap = [";
  for (std::size_t i = 0; i < bootstrap.size(); ++i) out << (i ? ", " : "") << toml_string(bootstrap[i]);
  out << "]\n"
      << "# Nodes only talk to nodes with the same network ID.\n"
      << "network_id = " << network_id << "\n\n"
      << "[tracker]\n"
      << "# The tracker as \"PEERID@host:port\" (printed by `open-bucket tracker`); needed by the\n"
      << "# producer and consumer roles.\n"
      << "address = " << toml_string(tracker) << "\n\n"
      << "[producer]\n"
      << "# The local Producer directory (empty = <home>/produce); files put there are uploaded.\n"
      << "directory = " << toml_string(producer_directory) << "\n"
      << "# Desired availability of uploads that do not say: how many slots may be lost + 1.\n"
      << "default_availability = " << default_availability << "\n"
      << "start_on_startup = " << (producer_start_on_startup ? "true" : "false") << "\n\n"
      << "[consumer]\n"
      << "# The local Consumer directory (empty = <home>/consume), where slots of others' files live.\n"
      << "directory = " << toml_string(consumer_directory) << "\n"
      << "# Most bytes of slots to keep.\n"
      << "limit_bytes = " << consumer_limit_bytes << "\n"
      << "start_on_startup = " << (consumer_start_on_startup ? "true" : "false") << "\n"
      << "# Seconds between CWatcher's scans of every slot, in case a change on disk was not\n"
      << "# announced (1..86400).\n"
      << "scan_interval_seconds = " << consumer_scan_interval_seconds << "\n"
      << "# The wallet account (0x address) the consumer is paid to; empty = the wallet's default.\n"
      << "account = " << toml_string(consumer_account) << "\n"
      << "# The price asked for paid-tier slots, in wei per byte of slot per second (it fills them\n"
      << "# from the account above); 0 = Free-tier slots only.\n"
      << "price_wei_per_byte_second = " << consumer_price_wei << "\n\n"
      << "[chain]\n"
      << "# The Ethereum node the wallet talks to (JSON-RPC over http:// or https://); empty = none.\n"
      << "rpc = " << toml_string(chain_rpc) << "\n"
      << "# The chain it must be on (1 = Ethereum mainnet, 11155111 = Sepolia, 31337 = anvil);\n"
      << "# 0 = whichever it is on. A node on another chain is refused.\n"
      << "chain_id = " << chain_id << "\n";
  return out.str();
}

Result<NodeConfig> NodeConfig::from_toml(std::string_view text) {
  // Debian's toml++ is built with exceptions: parse errors are thrown, and stop here.
  toml::table table;
  try {
    table = toml::parse(text);
  } catch (const toml::parse_error& err) {
    return fail(Errc::invalid_argument, "config.toml line ", err.source().begin.line, ": ",
                err.description());
  }
  NodeConfig config;
  OB_TRY(config.coding.k, read_integer<std::uint32_t>(table, "coding", "k", config.coding.k));
  OB_TRY(config.coding.m, read_integer<std::uint32_t>(table, "coding", "m", config.coding.m));
  OB_TRY(config.coding.block_size,
         read_integer<std::uint32_t>(table, "coding", "block_size", config.coding.block_size));
  if (auto ok = config.coding.validate(); !ok) return std::unexpected(prefixed(ok.error(), "config.toml [coding]"));
  OB_TRY(config.quota_bytes, read_integer<std::uint64_t>(table, "storage", "quota_bytes", 0));
  OB_TRY(config.sync, read_bool(table, "storage", "sync", config.sync));
  OB_TRY(config.api_port, read_integer<std::uint16_t>(table, "api", "port", config.api_port));
  OB_TRY(config.p2p_port, read_integer<std::uint16_t>(table, "p2p", "port", config.p2p_port));
  OB_TRY(config.dht_port, read_integer<std::uint16_t>(table, "p2p", "dht_port", config.dht_port));
  OB_TRY(config.network_id, read_integer<std::uint32_t>(table, "p2p", "network_id", config.network_id));
  if (const toml::node_view host = table["p2p"]["host"]) {
    const auto value = host.value_exact<std::string>();
    if (!value || value->empty() || value->size() > 253) {
      return fail(Errc::invalid_argument, "config.toml: [p2p] host must be a host name or address");
    }
    config.p2p_host = *value;
  }
  if (const toml::node_view bootstrap = table["p2p"]["bootstrap"]) {
    const toml::array* list = bootstrap.as_array();
    if (list == nullptr || list->size() > 64) {
      return fail(Errc::invalid_argument, "config.toml: [p2p] bootstrap must be a list of at most 64 \"host:port\" strings");
    }
    for (const toml::node& node : *list) {
      const auto entry = node.value_exact<std::string>();
      if (!entry || entry->rfind(':') == std::string::npos || entry->size() > 260) {
        return fail(Errc::invalid_argument, "config.toml: [p2p] bootstrap entries must be \"host:port\" strings");
      }
      config.bootstrap.push_back(*entry);
    }
  }
  OB_TRY(config.tracker, read_string(table, "tracker", "address", 512));
  if (!config.tracker.empty() && (config.tracker.find('@') == std::string::npos || config.tracker.rfind(':') == std::string::npos)) {
    return fail(Errc::invalid_argument, "config.toml: [tracker] address must be \"PEERID@host:port\"");
  }
  OB_TRY(config.producer_directory, read_string(table, "producer", "directory", 4096));
  OB_TRY(config.default_availability,
         read_integer<std::uint32_t>(table, "producer", "default_availability", config.default_availability));
  if (config.default_availability == 0 || config.default_availability > protocol::kMaxSlots) {
    return fail(Errc::invalid_argument, "config.toml: [producer] default_availability must be from 1 to ",
                protocol::kMaxSlots);
  }
  OB_TRY(config.producer_start_on_startup,
         read_bool(table, "producer", "start_on_startup", config.producer_start_on_startup));
  OB_TRY(config.consumer_directory, read_string(table, "consumer", "directory", 4096));
  OB_TRY(config.consumer_limit_bytes,
         read_integer<std::uint64_t>(table, "consumer", "limit_bytes", config.consumer_limit_bytes));
  OB_TRY(config.consumer_start_on_startup,
         read_bool(table, "consumer", "start_on_startup", config.consumer_start_on_startup));
  OB_TRY(config.consumer_scan_interval_seconds,
         read_integer<std::uint32_t>(table, "consumer", "scan_interval_seconds",
                                     config.consumer_scan_interval_seconds));
  if (config.consumer_scan_interval_seconds == 0 || config.consumer_scan_interval_seconds > kMaxScanIntervalSeconds) {
    return fail(Errc::invalid_argument, "config.toml: [consumer] scan_interval_seconds must be from 1 to ",
                kMaxScanIntervalSeconds);
  }
  OB_TRY(config.consumer_account, read_string(table, "consumer", "account", 42));
  if (!config.consumer_account.empty()) {
    auto address = wallet::Address::parse(config.consumer_account);
    if (!address) return fail(Errc::invalid_argument, "config.toml: [consumer] account: ", address.error().message);
    config.consumer_account = address->to_checksum();
  }
  OB_TRY(config.consumer_price_wei,
         read_integer<std::uint64_t>(table, "consumer", "price_wei_per_byte_second", config.consumer_price_wei));
  OB_TRY(config.chain_rpc, read_string(table, "chain", "rpc", 2048));
  if (!config.chain_rpc.empty() && !config.chain_rpc.starts_with("http://") && !config.chain_rpc.starts_with("https://")) {
    return fail(Errc::invalid_argument, "config.toml: [chain] rpc must be an http:// or https:// URL");
  }
  OB_TRY(config.chain_id, read_integer<std::uint64_t>(table, "chain", "chain_id", config.chain_id));
  return config;
}

Result<void> save_config(const std::filesystem::path& home_dir, const NodeConfig& config) {
  const std::string toml = config.to_toml();
  return fileio::write_file_atomic(home_dir / kConfigFile, as_bytes(toml));
}

std::filesystem::path Home::producer_dir() const {
  return config_.producer_directory.empty() ? dir_ / "produce" : std::filesystem::path(config_.producer_directory);
}

std::filesystem::path Home::consumer_dir() const {
  return config_.consumer_directory.empty() ? dir_ / "consume" : std::filesystem::path(config_.consumer_directory);
}

Result<std::string> read_api_token(const std::filesystem::path& path) {
  OB_TRY(Bytes bytes, fileio::read_private_file(path, 1024));
  std::string token(as_chars(bytes));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  const bool hex = std::ranges::all_of(token, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (token.size() != 2 * kApiTokenBytes || !hex) {
    return fail(Errc::corrupt, path.string(), " does not hold a token of ", 2 * kApiTokenBytes,
                " lower-case hex characters");
  }
  return token;
}

Result<std::string> load_or_create_api_token(const std::filesystem::path& path) {
  auto existing = read_api_token(path);
  if (existing || existing.error().code != Errc::not_found) return existing;
  std::array<std::uint8_t, kApiTokenBytes> secret;
  OB_TRY_VOID(crypto::random_bytes(secret));
  const std::string token = to_hex(secret);
  OB_TRY_VOID(fileio::write_file_atomic(path, as_bytes(token), 0600));
  return token;
}

Result<std::filesystem::path> resolve_home(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return std::filesystem::path(*flag);
  if (const char* env = std::getenv("OPEN_BUCKET_HOME"); env != nullptr && *env != '\0') {
    return std::filesystem::path(env);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".open-bucket";
  }
  return fail(Errc::invalid_argument, "no home directory: pass --home or set OPEN_BUCKET_HOME");
}

Result<RootKeys> derive_root_keys(ByteView bip39_seed) {
  if (bip39_seed.size() != 64) {
    return fail(Errc::invalid_argument, "a BIP-39 seed is 64 bytes, not ", bip39_seed.size());
  }
  RootKeys keys;
  OB_TRY(crypto::Key master, crypto::hkdf_sha256(bip39_seed, {}, "open-bucket/v1/master-secret"));
  OB_TRY(crypto::Key identity, crypto::hkdf_sha256(bip39_seed, {}, "open-bucket/v1/identity-key"));
  std::ranges::copy(master, keys.master.begin());
  std::ranges::copy(identity, keys.identity_seed.begin());
  return keys;
}

Result<InitResult> Home::init(const std::filesystem::path& dir, bool force, const NodeConfig& config,
                              const RootKeys* root) {
  const std::filesystem::path config_path = dir / kConfigFile;
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec) && !force) {
    return fail(Errc::already_exists, dir.string(),
                " is already initialised (use --force to rewrite its config.toml)");
  }
  // Private: the home holds the keys, the file list of the producer (names, hashes) and, by
  // default, the Producer and Consumer directories. A home that exists keeps its mode.
  OB_TRY_VOID(fileio::create_private_directories(dir / "keys"));
  std::filesystem::permissions(dir / "keys", std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);

  InitResult result{false};
  const std::filesystem::path key_path = dir / kMasterKeyFile;
  const std::filesystem::path identity_path = dir / "keys" / "identity.key";
  if (!std::filesystem::exists(key_path, ec)) {
    std::array<std::uint8_t, protocol::kMasterSecretSize> secret;
    if (root != nullptr) {
      secret = root->master;
    } else {
      OB_TRY_VOID(crypto::random_bytes(secret));
    }
    OB_TRY_VOID(fileio::write_file_atomic(key_path, secret, 0600));
    result.created_master_secret = true;
  }
  if (root != nullptr && !std::filesystem::exists(identity_path, ec)) {
    OB_TRY_VOID(fileio::write_file_atomic(identity_path, root->identity_seed, 0600));
  }
  // The node's peer identity; kept, like the master secret, when it exists.
  OB_TRY(net::Identity identity, net::Identity::load_or_create(identity_path));
  if (root != nullptr) {
    OB_TRY(Bytes master, fileio::read_private_file(key_path, 1024));
    OB_TRY(net::Identity derived, net::Identity::from_seed(root->identity_seed));
    result.keys_from_root = std::ranges::equal(master, root->master) && identity.peer_id() == derived.peer_id();
  }
  // The REST API's token; kept when it exists, so clients holding it keep working.
  OB_TRY_VOID(load_or_create_api_token(dir / "keys" / "api.token"));
  OB_TRY_VOID(save_config(dir, config));
  return result;
}

Result<Home> Home::open(const std::filesystem::path& dir) {
  auto config_text = fileio::read_file(dir / kConfigFile, 1024 * 1024);
  if (!config_text) {
    if (config_text.error().code == Errc::not_found) {
      return fail(Errc::not_found, dir.string(), " is not initialised: run `open-bucket init` first");
    }
    return std::unexpected(config_text.error());
  }
  OB_TRY(NodeConfig config, NodeConfig::from_toml(as_chars(*config_text)));

  const std::filesystem::path key_path = dir / kMasterKeyFile;
  OB_TRY(Bytes secret, fileio::read_private_file(key_path, 1024));
  if (secret.size() != protocol::kMasterSecretSize) {
    return fail(Errc::corrupt, key_path.string(), " holds ", secret.size(), " bytes, expected ",
                protocol::kMasterSecretSize);
  }
  std::array<std::uint8_t, protocol::kMasterSecretSize> master;
  std::copy(secret.begin(), secret.end(), master.begin());
  return Home(dir, config, master);
}

}  // namespace ob
