// A node's home directory: its configuration and its owner's master secret.
//
//   <home>/config.toml          coding defaults and storage settings (docs/cli.md)
//   <home>/keys/master.key      32 random bytes, mode 0600: the secret every file key derives from
//   <home>/keys/identity.key    32-byte Ed25519 seed, mode 0600: the node's peer ID (net/identity.h)
//   <home>/keys/api.token       64 hex characters (32 random bytes), mode 0600: the REST API's
//                               bearer token (docs/api.md)
//   <home>/daemon.json          {"pid", "apiPort", "peerId"} while a daemon runs (node/daemon.h)
//   <home>/blocks/              the RocksDB block store (manifests, raw blocks)
//   <home>/slots/               the slot store
//   <home>/wallet/              Ethereum accounts (wallet/wallet_store.h)
// The home is chosen by --home, else $OPEN_BUCKET_HOME, else ~/.open-bucket.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "coding/manifest.h"
#include "core/error.h"
#include "core/protocol.h"

namespace ob {

/// Settings read from config.toml.
struct NodeConfig {
  CodingParams coding;            ///< [coding] k, m, block_size: defaults for new files
  std::uint64_t quota_bytes = 0;  ///< [storage] quota_bytes: block store quota, 0 = unlimited
  bool sync = true;               ///< [storage] sync: fsync before acknowledging writes
  std::uint16_t api_port = 8080;  ///< [api] port: the daemon's REST port on 127.0.0.1, 0 = any free port
  std::string p2p_host = "127.0.0.1";     ///< [p2p] host: address of the block exchange server
  std::uint16_t p2p_port = 4040;          ///< [p2p] port: TCP port of block exchange, 0 = any free port
  std::uint16_t dht_port = 4222;          ///< [p2p] dht_port: UDP port of the DHT node, 0 = any free port
  std::vector<std::string> bootstrap;     ///< [p2p] bootstrap: DHT nodes to join, "host:port"
  std::uint32_t network_id = 0x0b0b0001;  ///< [p2p] network_id: nodes of other networks are ignored
  /// [tracker] address: "PEERID@host:port" of the tracker (its peer ID pins its TLS identity);
  /// empty = no tracker, and the producer and consumer roles cannot start.
  std::string tracker;
  /// [producer] directory: the local Producer directory (seed 000); empty = <home>/produce.
  std::string producer_directory;
  /// [producer] default_availability: desired availability of uploads that do not say, >= 1.
  std::uint32_t default_availability = 3;
  bool producer_start_on_startup = false;  ///< [producer] start_on_startup
  /// [consumer] directory: the local Consumer directory holding slots; empty = <home>/consume.
  std::string consumer_directory;
  /// [consumer] limit_bytes: most bytes of slots the consumer keeps (seed 000's limit).
  std::uint64_t consumer_limit_bytes = 10ull * 1000 * 1000 * 1000;
  bool consumer_start_on_startup = false;  ///< [consumer] start_on_startup
  /// [consumer] scan_interval_seconds: how often CWatcher looks at every held slot even when
  /// inotify announced nothing (its safety net; cwatcher.h), from 1 to 86400.
  std::uint32_t consumer_scan_interval_seconds = 600;
  /// [consumer] account: the wallet account (EIP-55 address) the consumer is paid to (seed 000);
  /// empty = the wallet's default account.
  std::string consumer_account;
  /// [consumer] price_wei_per_byte_second: the price the consumer asks for paid-tier slots, in
  /// wei per byte of slot per second (the market's pricePerByteSecond, docs/market.md); the
  /// tracker places a paid-tier slot on it only when the request pays at least this. 0 = it
  /// takes Free-tier slots only.
  std::uint64_t consumer_price_wei = 0;
  /// [chain] rpc: the Ethereum JSON-RPC endpoint the wallet uses ("http://host:port" or
  /// "https://..."); empty = none configured.
  std::string chain_rpc;
  /// [chain] chain_id: the chain that endpoint must be on (EIP-155 ID; 31337 is anvil's);
  /// 0 = whichever it is on.
  std::uint64_t chain_id = 0;

  /// The TOML text of this configuration, with comments.
  std::string to_toml() const;
  /// Parses config.toml text. Errors (invalid_argument): TOML syntax, wrong types, invalid
  /// coding parameters; each message names the key.
  static Result<NodeConfig> from_toml(std::string_view text);
};

/// Writes `config` as <home_dir>/config.toml, atomically and durably (write, fsync, rename).
/// Errors (io).
Result<void> save_config(const std::filesystem::path& home_dir, const NodeConfig& config);

/// The resolved home directory: `flag` if given, else $OPEN_BUCKET_HOME, else ~/.open-bucket.
/// Errors (invalid_argument): none given and $HOME is unset.
Result<std::filesystem::path> resolve_home(const std::optional<std::string>& flag);

/// Reads the REST API token (64 lower-case hex characters) from `path`.
/// Errors (not_found): no token yet; (corrupt): not 64 hex characters, or readable by others
/// than its owner; (io).
Result<std::string> read_api_token(const std::filesystem::path& path);
/// Reads the REST API token, or creates one (32 random bytes as hex, mode 0600, written
/// durably) when there is none. Errors as read_api_token, and (crypto) no randomness.
Result<std::string> load_or_create_api_token(const std::filesystem::path& path);

/// What init did, for the message the user sees.
struct InitResult {
  bool created_master_secret;  ///< false when --force kept an existing secret
  /// Whether the home's master secret and identity are the ones derived from the root keys
  /// init was given (made now, or already those); false without root keys.
  bool keys_from_root = false;
};

/// The keys of a home derived from one root secret, the 64-byte BIP-39 seed of its owner's
/// mnemonic (BIP-39 with an empty passphrase, as the wallet's accounts use), so that the same
/// words give the same master secret (every file key) and the same peer identity on any
/// machine (docs/formats.md "Keys of a home"):
///   master secret = HKDF-SHA256(ikm = seed, salt = "", info = "open-bucket/v1/master-secret")
///   identity seed = HKDF-SHA256(ikm = seed, salt = "", info = "open-bucket/v1/identity-key")
/// (RFC 5869; the identity seed is the node's Ed25519 private seed, RFC 8032).
struct RootKeys {
  std::array<std::uint8_t, protocol::kMasterSecretSize> master{};
  std::array<std::uint8_t, 32> identity_seed{};
};
/// Derives RootKeys from a BIP-39 seed (64 bytes). Errors (invalid_argument): another size;
/// (crypto): the library failed.
Result<RootKeys> derive_root_keys(ByteView bip39_seed);

/// An opened home: its paths, configuration and master secret.
class Home {
 public:
  /// Creates the home (mode 0700, as its missing parents), config.toml, keys/master.key,
  /// keys/identity.key and keys/api.token. The master secret and the identity are `root`'s
  /// when given, random otherwise.
  /// Without `force` an existing config is an error (already_exists); with it the config is
  /// rewritten. Existing keys are never replaced: every stored file's key derives from the
  /// master secret. `config` is written as config.toml. Errors (already_exists, io, crypto).
  static Result<InitResult> init(const std::filesystem::path& dir, bool force, const NodeConfig& config = {},
                                 const RootKeys* root = nullptr);
  /// Opens an initialised home. Errors (not_found): not initialised ("run open-bucket init");
  /// (invalid_argument): bad config; (corrupt): a master key of the wrong size or readable by
  /// others than its owner; (io).
  static Result<Home> open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path blocks_dir() const { return dir_ / "blocks"; }
  std::filesystem::path slots_dir() const { return dir_ / "slots"; }
  std::filesystem::path identity_key_path() const { return dir_ / "keys" / "identity.key"; }
  std::filesystem::path api_token_path() const { return dir_ / "keys" / "api.token"; }
  /// The configured Producer directory, or <home>/produce.
  std::filesystem::path producer_dir() const;
  /// The configured Consumer directory, or <home>/consume.
  std::filesystem::path consumer_dir() const;
  /// The configuration read at open. Roles that change their section save it with save_config
  /// and keep their own copy; this one is not updated.
  const NodeConfig& config() const noexcept { return config_; }
  ByteView master_secret() const noexcept { return master_; }

 private:
  Home(std::filesystem::path dir, NodeConfig config, std::array<std::uint8_t, protocol::kMasterSecretSize> master)
      : dir_(std::move(dir)), config_(config), master_(master) {}
  std::filesystem::path dir_;
  NodeConfig config_;
  std::array<std::uint8_t, protocol::kMasterSecretSize> master_;
};

}  // namespace ob
