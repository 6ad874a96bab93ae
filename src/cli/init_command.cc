// `open-bucket init`: seed 000's "Daemon > Init" in three steps.
//   1. The root words: a new home's master secret and peer identity derive from the mnemonic of
//      --mnemonic-file, or of a new one (--new-account, or the answer "create" on a terminal),
//      and account 0 of it becomes the wallet's default account when it has none (RootKeys in
//      node/home.h, docs/formats.md "Keys of a home"); so the words alone recover the node's
//      files and account on another machine. Without words the keys are random and the wallet
//      step is optional. The words are checked before anything is written; the account is
//      added once the home exists.
//   2. The config: the producer's and the consumer's settings (and where the tracker is), from
//      flags, or asked for on a terminal; then the home, its keys and config.toml are written.
//   3. Starting the producer and the consumer: `--start-producer`, `--start-consumer` (or a
//      yes/no question on a terminal) start the daemon and the roles, as `producer start` and
//      `consumer start` would.
// Re-running init overrides the config (seed 000), so an existing config needs --force; the
// keys are always kept.
//
// `init --recover` (issue 13) makes a new home from the words of an existing one on an empty
// home directory: the same keys, the file index found through the DHT or the tracker
// (node/recovery.h) written as the producer's state, and the wallet's account 0 with a new
// keystore. When no index is found, or anything fails, the home is removed again: as if init
// had not run.
#include <unistd.h>

#include <charconv>
#include <iostream>

#include "cli/commands.h"
#include "chain/chain_client.h"
#include "core/units.h"
#include "node/home.h"
#include "node/recovery.h"
#include "wallet/mnemonic.h"
#include "store/file_io.h"
#include "tracker/tracker_client.h"

namespace ob::cli {
namespace {

struct InitOptions {
  bool force = false;
  bool detach = false;  // no questions, even on a terminal
  std::optional<std::string> tracker, producer_dir, consumer_dir, limit;
  std::optional<std::uint32_t> default_availability, k, m;
  std::optional<std::uint16_t> api_port, p2p_port, dht_port;
  std::optional<std::uint32_t> network_id;
  std::vector<std::string> bootstrap;
  bool no_sync = false;
  bool recover = false;
  std::optional<bool> start_producer, start_consumer;
  std::optional<std::string> rpc;
  std::optional<std::uint64_t> chain_id;
  AccountStep account;
};

/// Asks `question` on the terminal; an empty answer keeps `current`.
std::string ask(const std::string& question, const std::string& current) {
  std::cout << question << (current.empty() ? "" : " [" + current + "]") << ": " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer) || answer.empty()) return current;
  return answer;
}

bool ask_yes(const std::string& question) {
  const std::string answer = ask(question + " (y/N)", "");
  return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
}

/// Step 1's words: the home's root secret (docs/formats.md "Keys of a home") and its wallet's
/// first account.
struct RootWords {
  std::shared_ptr<const wallet::Mnemonic> words;  ///< none: random keys (or the home's, kept)
  bool created = false;                           ///< made now: printed once, after init
  bool asked = false;                             ///< the terminal was asked (and answered)
};

/// Those of --mnemonic-file; on a home without keys yet, new words for --new-account or when
/// the terminal's answer is "create"; none otherwise. Read and checked before anything is
/// written. Errors: the file's (not_found, io), the words' (invalid_argument), (crypto).
Result<RootWords> root_words(const std::filesystem::path& dir, std::optional<std::string> file, bool create,
                             bool interactive) {
  std::error_code ec;
  const bool has_keys = std::filesystem::exists(dir / "keys" / "master.key", ec);
  bool asked = false;
  if (!file && !has_keys && !create && interactive) {
    asked = true;
    std::cout << "One mnemonic can hold this node's keys and its wallet, and recover both on another machine.\n";
    const std::string answer = ask("[c]reate one, [i]mport a mnemonic file, or [s]kip (random keys, no account)", "c");
    if (answer == "i" || answer == "import") {
      file = ask("File holding the mnemonic words", "");
      if (file->empty()) return fail(Errc::invalid_argument, "no mnemonic file given");
    }
    create = answer == "c" || answer == "create";
  }
  if (file) {
    OB_TRY(Bytes text, fileio::read_file(*file, 64 * 1024));
    auto words = wallet::Mnemonic::parse(as_chars(text));
    std::fill(text.begin(), text.end(), 0);
    if (!words) return fail(words.error().code, *file, ": ", words.error().message);
    return RootWords{std::make_shared<const wallet::Mnemonic>(std::move(*words)), false, asked};
  }
  if (!create || has_keys) return RootWords{nullptr, false, asked};
  OB_TRY(wallet::Mnemonic words, wallet::Mnemonic::generate(12));
  return RootWords{std::make_shared<const wallet::Mnemonic>(std::move(words)), true, asked};
}

/// The config the options (and answers) describe; every value checked.
Result<NodeConfig> build_config(InitOptions& o, bool interactive) {
  NodeConfig config;
  if (interactive) {
    std::cout << "Open Bucket setup. Press Enter to keep a default.\n";
    if (!o.tracker) o.tracker = ask("Tracker address (PEERID@host:port, empty for none)", "");
    if (!o.producer_dir) o.producer_dir = ask("Producer directory (files put here are uploaded)", "<home>/produce");
    if (!o.default_availability) {
      const std::string text = ask("Default availability (consumers that may be lost + 1)", "3");
      std::uint32_t value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size()) return fail(Errc::invalid_argument, "Invalid defaultAvailability");
      o.default_availability = value;
    }
    if (!o.consumer_dir) o.consumer_dir = ask("Consumer directory (slots of others' files)", "<home>/consume");
    if (!o.limit) o.limit = ask("Consumer limit", "10 GB");
    if (!o.rpc) o.rpc = ask("Ethereum node for the wallet (JSON-RPC URL, empty for none)", "");
  }
  if (o.tracker && !o.tracker->empty()) {
    OB_TRY(tracker::TrackerAddress address, tracker::TrackerAddress::parse(*o.tracker));
    config.tracker = address.to_string();
  }
  const auto directory = [](const std::optional<std::string>& dir) -> Result<std::string> {
    if (!dir || dir->empty() || *dir == "<home>/produce" || *dir == "<home>/consume") return std::string();
    std::error_code ec;
    const std::filesystem::path path = std::filesystem::absolute(*dir, ec);
    if (ec) return fail(Errc::invalid_argument, "Invalid directory");
    return path.string();
  };
  OB_TRY(config.producer_directory, directory(o.producer_dir));
  OB_TRY(config.consumer_directory, directory(o.consumer_dir));
  if (o.default_availability) {
    if (*o.default_availability == 0 || *o.default_availability > protocol::kMaxSlots) {
      return fail(Errc::invalid_argument, "Invalid defaultAvailability: a number from 1 to ", protocol::kMaxSlots);
    }
    config.default_availability = *o.default_availability;
  }
  if (o.limit) {
    auto limit = parse_size(*o.limit);
    if (!limit) return fail(Errc::invalid_argument, "Invalid limit: ", limit.error().message);
    config.consumer_limit_bytes = *limit;
  }
  if (o.k) config.coding.k = *o.k;
  if (o.m) config.coding.m = *o.m;
  OB_TRY_VOID(config.coding.validate());
  if (o.api_port) config.api_port = *o.api_port;
  if (o.p2p_port) config.p2p_port = *o.p2p_port;
  if (o.dht_port) config.dht_port = *o.dht_port;
  if (o.network_id) config.network_id = *o.network_id;
  for (const std::string& node : o.bootstrap) {
    if (node.rfind(':') == std::string::npos || node.size() > 260) {
      return fail(Errc::invalid_argument, "--bootstrap takes host:port, not '", node, "'");
    }
  }
  config.bootstrap = o.bootstrap;
  config.sync = !o.no_sync;
  if (o.rpc && !o.rpc->empty()) {
    // The chain is pinned now: asked of the node unless given, so that a node on another
    // chain is refused later.
    chain::ChainSettings settings;
    settings.rpc = *o.rpc;
    settings.chain_id = o.chain_id.value_or(0);
    auto client = chain::ChainClient::connect(settings);
    if (!client && (!o.chain_id || client.error().code != Errc::io)) {
      return std::unexpected(o.chain_id ? client.error()
                                        : prefixed(client.error(), "--rpc (start the node, or give --chain-id)"));
    }
    config.chain_rpc = *o.rpc;
    config.chain_id = client ? client->chain_id() : *o.chain_id;
  } else if (o.chain_id) {
    config.chain_id = *o.chain_id;
  }
  return config;
}

/// Seed step 3: starts the daemon and the chosen roles.
int start_roles(const std::optional<std::string>& home, bool producer, bool consumer) {
  if (!producer && !consumer) return 0;
  auto client = daemon_client(home, /*start=*/true);
  if (!client) return report(client.error());
  for (const auto& [wanted, path] : {std::pair{producer, "/v1/producer/start"}, std::pair{consumer, "/v1/consumer/start"}}) {
    if (!wanted) continue;
    auto reply = client->post_json(path, nlohmann::json::object());
    if (!reply) return report(reply.error());
    print_reply(*reply, false);
  }
  return 0;
}

/// The words of `init --recover`: from --mnemonic-file, else typed on the terminal (not echoed).
Result<std::shared_ptr<const wallet::Mnemonic>> recovery_words(const std::filesystem::path& dir,
                                                               const std::optional<std::string>& file,
                                                               bool interactive) {
  if (file) {
    OB_TRY(RootWords root, root_words(dir, file, false, false));
    return root.words;
  }
  if (!interactive) return fail(Errc::invalid_argument, "init --recover needs the words: give --mnemonic-file F");
  OB_TRY(std::string typed, prompt_hidden("The mnemonic words of the home to recover (12 or 24): "));
  auto words = wallet::Mnemonic::parse(typed);
  std::fill(typed.begin(), typed.end(), '\0');
  if (!words) return std::unexpected(words.error());
  return std::make_shared<const wallet::Mnemonic>(std::move(*words));
}

/// Removes what a failed recovery made: the home directory when it made it, else its entries.
void undo_home(const std::filesystem::path& dir, bool existed) {
  std::error_code ec;
  if (!existed) {
    std::filesystem::remove_all(dir, ec);
    return;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) std::filesystem::remove_all(entry.path(), ec);
}

int cmd_recover(const std::filesystem::path& dir, const std::optional<std::string>& home_flag, InitOptions& options,
                bool interactive) {
  if (options.account.new_account) {
    return report(Error{Errc::invalid_argument, "init --recover takes the words of an existing home, not --new-account"});
  }
  if (!options.tracker || options.tracker->empty()) {
    return report(Error{Errc::invalid_argument, "init --recover needs --tracker PEERID@host:port (it keeps a copy of the index record)"});
  }
  std::error_code ec;
  const bool existed = std::filesystem::exists(dir, ec);
  if (existed && !std::filesystem::is_empty(dir, ec)) {
    return report(Error{Errc::invalid_argument, "init --recover needs an empty home: " + dir.string() + " is not empty"});
  }
  auto words = recovery_words(dir, options.account.mnemonic_file, interactive);
  if (!words) return report(words.error());
  auto seed = (*words)->seed();
  if (!seed) return report(seed.error());
  auto keys = derive_root_keys(*seed);
  std::fill(seed->begin(), seed->end(), 0);
  if (!keys) return report(keys.error());
  auto config = build_config(options, /*interactive=*/false);
  if (!config) return report(config.error());
  auto made = Home::init(dir, /*force=*/false, *config, &*keys);
  std::fill(keys->master.begin(), keys->master.end(), 0);
  if (!made) return report(made.error());
  auto recovered = [&]() -> Result<RecoveredIndex> {
    OB_TRY(Home home, Home::open(dir));
    return recover_file_index(home, [](std::string_view step) { std::cerr << "recover: " << step << std::endl; });
  }();
  if (!recovered) {
    undo_home(dir, existed);
    return report(recovered.error());
  }
  std::cout << "Recovered Open Bucket home " << dir.string() << ": " << recovered->files
            << " file(s) in the file index (sequence " << recovered->sequence << ", found in the " << recovered->found_in
            << ")\n";
  options.account.root = *words;
  options.account.created = false;
  options.account.interactive = false;
  if (const int code = ensure_default_account(dir, options.account); code != 0) return code;
  return start_roles(home_flag, options.start_producer.value_or(false), options.start_consumer.value_or(false));
}

int cmd_init(const std::optional<std::string>& home_flag, InitOptions options) {
  auto dir = resolve_home(home_flag);
  if (!dir) return report(dir.error());
  const bool interactive = !options.detach && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  if (options.recover) return cmd_recover(*dir, home_flag, options, interactive);
  if (options.account.mnemonic_file && options.account.new_account) {
    return report(Error{Errc::invalid_argument, "give --mnemonic-file or --new-account, not both"});
  }
  // Step 1's words, checked before anything is written: a new home's keys derive from them.
  auto root = root_words(*dir, options.account.mnemonic_file, options.account.new_account, interactive);
  if (!root) return report(root.error());
  std::optional<RootKeys> keys;
  if (root->words) {
    auto seed = root->words->seed();
    if (!seed) return report(seed.error());
    auto derived = derive_root_keys(*seed);
    std::fill(seed->begin(), seed->end(), 0);
    if (!derived) return report(derived.error());
    keys = *derived;
  }
  auto config = build_config(options, interactive);
  if (!config) return report(config.error());
  auto result = Home::init(*dir, options.force, *config, keys ? &*keys : nullptr);
  if (keys) std::fill(keys->master.begin(), keys->master.end(), 0);
  if (!result) return report(result.error());
  std::cout << "Initialised Open Bucket home " << dir->string() << "\n";
  if (result->created_master_secret && result->keys_from_root) {
    std::cout << "Derived the master secret " << (*dir / "keys/master.key").string()
              << " (mode 0600) and the peer identity from the mnemonic: its words recover them on any machine.\n";
  } else if (result->created_master_secret) {
    std::cout << "Created master secret " << (*dir / "keys/master.key").string()
              << " (mode 0600). Back it up: without it no stored file can be read.\n";
  } else {
    std::cout << "Kept the existing master secret and keys; config.toml was rewritten.\n";
    if (root->words && !result->keys_from_root) {
      std::cout << "They were not derived from this mnemonic: back up keys/master.key, the words cannot recover it.\n";
    }
  }
  options.account.root = root->words;
  options.account.created = root->created;
  options.account.interactive = interactive && !root->asked && !root->words && !options.account.new_account;
  if (const int code = ensure_default_account(*dir, options.account); code != 0) return code;
  if (interactive && !config->tracker.empty()) {
    if (!options.start_producer) options.start_producer = ask_yes("Start the producer now?");
    if (!options.start_consumer) options.start_consumer = ask_yes("Start the consumer now?");
  }
  return start_roles(home_flag, options.start_producer.value_or(false), options.start_consumer.value_or(false));
}

}  // namespace

CommandRunner add_init_command(CLI::App& app, const std::optional<std::string>& home) {
  auto options = std::make_shared<InitOptions>();
  auto* init = app.add_subcommand(
      "init", "Init: set up this node (its home, keys and config.toml); asks on a terminal unless -d");
  init->add_flag("--force", options->force, "Rewrite an existing config.toml (the keys are always kept)");
  init->add_flag("-d,--detach", options->detach, "Ask nothing; take every answer from flags or defaults");
  init->add_option("--tracker", options->tracker, "Tracker address, PEERID@host:port");
  init->add_option("--producer-dir", options->producer_dir, "Producer directory (default <home>/produce)");
  init->add_option("--default-availability", options->default_availability, "Default desired availability (default 3)");
  init->add_option("--consumer-dir", options->consumer_dir, "Consumer directory (default <home>/consume)");
  init->add_option("--limit", options->limit, "Consumer limit, e.g. \"10 GB\" (default 10 GB)");
  init->add_option("--k", options->k, "Default data slots per file (default 4)");
  init->add_option("--m", options->m, "Default parity slots per file (default 2)");
  init->add_option("--api-port", options->api_port, "REST API port on 127.0.0.1 (default 8080; 0 = any free)");
  init->add_option("--p2p-port", options->p2p_port, "Block exchange TCP port (default 4040; 0 = any free)");
  init->add_option("--dht-port", options->dht_port, "DHT UDP port (default 4222; 0 = any free)");
  init->add_option("--bootstrap", options->bootstrap, "DHT node to join, host:port (repeatable)");
  init->add_option("--network-id", options->network_id, "Network ID (nodes only talk within one)");
  init->add_flag("--no-sync", options->no_sync, "Do not fsync writes (throwaway test data only)");
  init->add_option("--rpc", options->rpc, "Ethereum node for the wallet, a JSON-RPC URL (its chain ID is recorded)");
  init->add_option("--chain-id", options->chain_id, "The chain that node must be on (default: the one it is on)");
  init->add_option("--mnemonic-file", options->account.mnemonic_file,
                   "Step 1: derive a new home's keys from these mnemonic words; account 0 becomes the wallet's default account");
  init->add_flag("--recover", options->recover,
                 "Make this (empty) home from the words of an existing one: its keys, its file list from the "
                 "network (needs --tracker) and its wallet account");
  init->add_flag("--new-account", options->account.new_account,
                 "Step 1: the same from a new mnemonic (its words are printed once: they recover this home)");
  init->add_option("--password-file", options->account.password_file,
                   "The new keystore's passphrase, first line of this file (else $OPEN_BUCKET_PASSWORD, else a prompt)");
  init->add_option("--start-producer", options->start_producer, "Start the producer after init (true/false)");
  init->add_option("--start-consumer", options->start_consumer, "Start the consumer after init (true/false)");
  return [init, options, &home]() -> std::optional<int> {
    if (!init->parsed()) return std::nullopt;
    return cmd_init(home, *options);
  };
}

}  // namespace ob::cli
