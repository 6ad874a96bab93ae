// open-bucket: the command line. Parses arguments, opens the node's home, and runs one operation
// per command: through the daemon's REST API when a daemon runs for the home (it holds the
// store's lock), else on the engine directly; then prints the result (a table, or JSON with
// --json). `daemon` runs the daemon itself (node/daemon.h).
// Exit codes: 0 success; 1 error (one line on stderr); 2 usage error;
// 3 `data verify` found damage that is still recoverable; 4 `data verify` found it unrecoverable.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/rest_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "coding/share_token.h"
#include "core/cid.h"
#include "node/daemon.h"
#include "net/identity.h"
#include "node/engine.h"
#include "node/home.h"
#include "store/file_io.h"

namespace ob::cli {
namespace {

/// An opened node: its home, and either a client of its running daemon or the engine itself.
struct Opened {
  std::unique_ptr<Home> home;
  std::optional<api::RestClient> daemon;  ///< set when a daemon serves this home
  std::unique_ptr<Engine> engine;         ///< set otherwise
};

/// How a command may reach the store.
enum class Access {
  via_daemon,  ///< through the daemon when one runs, else directly
  local_only,  ///< directly (verify, damage): refused while a daemon holds the store
};

Result<Opened> open_node(const std::optional<std::string>& home_flag, Access access = Access::via_daemon,
                         std::string_view command = {}) {
  OB_TRY(std::filesystem::path dir, resolve_home(home_flag));
  OB_TRY(Home home, Home::open(dir));
  Opened opened{std::make_unique<Home>(std::move(home)), std::nullopt, nullptr};
  if (access == Access::via_daemon) {
    OB_TRY(opened.daemon, api::RestClient::connect(*opened.home));
    if (opened.daemon) return opened;
  }
  auto engine = Engine::open(*opened.home);
  if (!engine) {
    // The store's lock is held; if by our daemon, say what to do about it.
    if (auto daemon = running_daemon(dir)) {
      return fail(Errc::io, "`data ", command, "` works on the store itself, which the daemon (pid ", daemon->pid,
                  ") holds: stop the daemon first");
    }
    return std::unexpected(engine.error());
  }
  opened.engine = std::move(*engine);
  return opened;
}

/// Where `data get` writes: OUT itself, or the file's stored name inside OUT when it is a
/// directory (only the name's last component: a name must never steer the write elsewhere).
std::filesystem::path output_path(const std::string& out_path, const std::string& stored_name, const Cid& cid) {
  std::filesystem::path target(out_path);
  std::error_code ec;
  if (std::filesystem::is_directory(target, ec)) {
    const std::string name = std::filesystem::path(stored_name).filename().string();
    target /= (name.empty() || name == "." || name == "..") ? cid.to_string() : name;
  }
  return target;
}

Result<Cid> parse_cid(const std::string& text) {
  auto cid = Cid::parse(text);
  if (!cid) return fail(Errc::invalid_argument, "invalid CID '", text, "': ", cid.error().message);
  return cid;
}

ByteSource fd_source(int fd, std::string name) {
  return [fd, name = std::move(name)](MutableByteView out) -> Result<std::size_t> {
    for (;;) {
      const ssize_t n = ::read(fd, out.data(), out.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return std::unexpected(fileio::errno_error("cannot read", name, errno));
    }
  };
}

// --- init ------------------------------------------------------------------------------------

// --- data put --------------------------------------------------------------------------------

struct PutOptions {
  std::string path;
  std::optional<std::uint32_t> k, m, block_size;
  std::string mime_type;
  bool json = false;
};

int cmd_put(const std::optional<std::string>& home_flag, const PutOptions& opts) {
  auto node = open_node(home_flag);
  if (!node) return report(node.error());
  CodingParams params = node->home->config().coding;
  if (opts.k) params.k = *opts.k;
  if (opts.m) params.m = *opts.m;
  if (opts.block_size) params.block_size = *opts.block_size;
  if (auto ok = params.validate(); !ok) return report(ok.error());

  fileio::Fd owned;
  int fd = STDIN_FILENO;
  std::uint64_t size = 0;
  std::string name = "stdin";
  if (opts.path != "-") {
    auto opened = fileio::open_fd(opts.path, O_RDONLY);
    if (!opened) return report(opened.error());
    owned = std::move(*opened);
    fd = owned.get();
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      return report(Error{Errc::invalid_argument, opts.path + ": not a regular file"});
    }
    size = static_cast<std::uint64_t>(st.st_size);
    name = std::filesystem::path(opts.path).filename().string();
  }
  ProgressBar bar("put " + name, opts.json);
  const Progress progress = [&](std::uint64_t done, std::uint64_t) { bar.update(done, size); };
  std::optional<Cid> cid;
  std::uint64_t stored_size = 0;
  if (node->daemon) {
    const std::optional<std::uint64_t> known_size = opts.path == "-" ? std::nullopt : std::optional(size);
    auto entry = node->daemon->put(fd_source(fd, opts.path), known_size, {name, opts.mime_type}, params, progress);
    bar.finish();
    if (!entry) return report(entry.error());
    cid = entry->cid;
    stored_size = entry->size;
  } else {
    auto stored = node->engine->store(fd_source(fd, opts.path), {name, opts.mime_type}, params, progress);
    bar.finish();
    if (!stored) return report(stored.error());
    cid = *stored;
    if (opts.json) {
      auto entry = node->engine->stat(*cid);
      if (!entry) return report(entry.error());
      stored_size = entry->size;
    }
  }
  if (opts.json) {
    nlohmann::json out = {{"cid", cid->to_string()}, {"name", name}, {"size", stored_size},
                          {"k", params.k}, {"m", params.m}, {"blockSize", params.block_size}};
    std::cout << out.dump() << "\n";
  } else {
    std::cout << cid->to_string() << "\n";
  }
  return 0;
}

// --- data get --------------------------------------------------------------------------------

/// `data get` through the daemon: the same output rules, the bytes streamed from its API. The
/// daemon logs slots it had to rebuild without; they are not reported here.
int get_via_daemon(api::RestClient& daemon, const Cid& cid, const std::string& out_path, ProgressBar& bar,
                   const Progress& progress, const std::string& share_token = {}) {
  std::optional<fileio::AtomicFile> file;
  std::filesystem::path target;
  auto received = daemon.get(
      cid,
      [&](const api::DownloadInfo& info) -> Result<ByteSink> {
        if (out_path == "-") {
          return ByteSink([](ByteView data) { return fileio::write_all(STDOUT_FILENO, data, "stdout"); });
        }
        // Written beside the target and renamed into place only when every byte arrived.
        target = output_path(out_path, info.name, cid);
        OB_TRY(fileio::AtomicFile created, fileio::AtomicFile::create(target));
        file.emplace(std::move(created));
        return ByteSink([&file](ByteView data) { return file->write(data); });
      },
      progress, share_token);
  bar.finish();
  if (!received) return report(received.error());
  if (!file) return 0;  // standard output
  if (auto ok = file->commit(); !ok) return report(ok.error());
  std::cerr << "wrote " << *received << " bytes to " << target.string() << "\n";
  return 0;
}

int cmd_get(const std::optional<std::string>& home_flag, const std::string& cid_text,
            const std::string& out_path) {
  if (looks_like_share_token(cid_text)) {
    // Someone's share link: read from the network by this node's daemon, with the token's key.
    auto token = parse_share_token(cid_text);
    if (!token) return report(token.error());
    auto node = open_node(home_flag);
    if (!node) return report(node.error());
    if (!node->daemon) {
      return report(Error{Errc::invalid_argument, "a shared file is read from the network: start the daemon first"});
    }
    ProgressBar bar("get " + token->file.to_string().substr(0, 12), /*json=*/out_path == "-");
    const Progress progress = [&](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
    return get_via_daemon(*node->daemon, token->file, out_path, bar, progress, cid_text);
  }
  auto cid = parse_cid(cid_text);
  if (!cid) return report(cid.error());
  auto node = open_node(home_flag);
  if (!node) return report(node.error());
  // With "-" the file's bytes go to stdout: no progress line beside them, even on a terminal.
  ProgressBar bar("get " + cid_text.substr(0, 12), /*json=*/out_path == "-");
  const Progress progress = [&](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
  if (node->daemon) return get_via_daemon(*node->daemon, *cid, out_path, bar, progress);

  auto entry = node->engine->stat(*cid);
  if (!entry) return report(entry.error());
  if (out_path == "-") {
    auto result = node->engine->retrieve(*cid, [](ByteView data) {
      return fileio::write_all(STDOUT_FILENO, data, "stdout");
    }, progress);
    bar.finish();
    return result ? 0 : report(result.error());
  }

  const std::filesystem::path target = output_path(out_path, entry->name, *cid);
  // Written beside the target and renamed into place only when every block checked out.
  auto file = fileio::AtomicFile::create(target);
  if (!file) return report(file.error());
  auto result = node->engine->retrieve(*cid, [&](ByteView data) { return file->write(data); }, progress);
  bar.finish();
  if (!result) return report(result.error());
  if (auto ok = file->commit(); !ok) return report(ok.error());
  if (!result->unusable_slots.empty()) {
    std::cerr << "open-bucket: note: rebuilt " << result->rebuilt_stripes << " stripe(s) without slot(s)";
    for (std::uint32_t s : result->unusable_slots) std::cerr << " " << s;
    std::cerr << "\n";
  }
  std::cerr << "wrote " << result->bytes << " bytes to " << target.string() << "\n";
  return 0;
}

// --- data ls / rm / verify / damage ----------------------------------------------------------

// --- network -----------------------------------------------------------------------------------

/// `network …`: asks the running daemon (the network lives in it) for `path` and prints the
/// reply: JSON with --json, else one line per peer ("peerId addr, addr").
int cmd_network(const std::optional<std::string>& home_flag, const std::string& path, bool json) {
  auto dir = resolve_home(home_flag);
  if (!dir) return report(dir.error());
  auto home = Home::open(*dir);
  if (!home) return report(home.error());
  auto daemon = api::RestClient::connect(*home);
  if (!daemon) return report(daemon.error());
  if (!*daemon) return report(Error{Errc::not_found, "no daemon runs for " + dir->string() + ": start `open-bucket daemon` first"});
  auto reply = (*daemon)->get_json(path);
  if (!reply) return report(reply.error());
  if (json) {
    std::cout << reply->dump(2) << "\n";
    return 0;
  }
  const nlohmann::json items = reply->is_array() ? *reply : nlohmann::json::array({*reply});
  if (items.empty()) std::cout << "none\n";
  for (const nlohmann::json& item : items) {
    if (item.contains("msg")) {
      std::cout << item["msg"].get<std::string>() << "\n";
      continue;
    }
    std::cout << item.value("peerId", "?");
    const char* sep = " ";
    for (const auto& addr : item.value("addrs", nlohmann::json::array())) {
      std::cout << sep << addr.get<std::string>();
      sep = ", ";
    }
    std::cout << "\n";
  }
  return 0;
}

int cmd_ls(const std::optional<std::string>& home_flag, bool json) {
  auto node = open_node(home_flag);
  if (!node) return report(node.error());
  auto entries = node->daemon ? node->daemon->list() : node->engine->list();
  if (!entries) return report(entries.error());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const FileEntry& e : *entries) {
      out.push_back({{"cid", e.cid.to_string()}, {"name", e.name}, {"mimeType", e.mime_type},
                     {"size", e.size}, {"k", e.params.k}, {"m", e.params.m},
                     {"blockSize", e.params.block_size}, {"storedBytes", e.stored_bytes}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (entries->empty()) {
    std::cout << "no files stored\n";
    return 0;
  }
  std::printf("%-62s %10s %5s %10s  %s\n", "CID", "SIZE", "K+M", "STORED", "NAME");
  for (const FileEntry& e : *entries) {
    std::printf("%-62s %10s %2u+%-2u %10s  %s\n", e.cid.to_string().c_str(), human_bytes(e.size).c_str(),
                e.params.k, e.params.m, human_bytes(e.stored_bytes).c_str(), e.name.c_str());
  }
  return 0;
}

int cmd_rm(const std::optional<std::string>& home_flag, const std::string& cid_text) {
  auto cid = parse_cid(cid_text);
  if (!cid) return report(cid.error());
  auto node = open_node(home_flag);
  if (!node) return report(node.error());
  if (auto ok = node->daemon ? node->daemon->remove(*cid) : node->engine->remove(*cid); !ok) {
    return report(ok.error());
  }
  std::cout << "removed " << cid->to_string() << "\n";
  return 0;
}

const char* state_name(SlotHealth::State state) {
  switch (state) {
    case SlotHealth::State::intact: return "intact";
    case SlotHealth::State::missing: return "missing";
    case SlotHealth::State::damaged: return "damaged";
  }
  return "unknown";
}

int cmd_verify(const std::optional<std::string>& home_flag, const std::string& cid_text, bool json) {
  auto cid = parse_cid(cid_text);
  if (!cid) return report(cid.error());
  auto node = open_node(home_flag, Access::local_only, "verify");
  if (!node) return report(node.error());
  ProgressBar bar("verify", json);
  auto report_or = node->engine->verify(*cid, [&](std::uint64_t done, std::uint64_t total) { bar.update(done, total); });
  bar.finish();
  if (!report_or) return report(report_or.error());
  const VerifyReport& r = *report_or;
  const bool all_intact = r.intact_slots() == r.slots.size();
  if (json) {
    nlohmann::json slots = nlohmann::json::array();
    for (const SlotHealth& s : r.slots) {
      slots.push_back({{"slot", s.slot}, {"state", state_name(s.state)}, {"badBlocks", s.bad_blocks},
                       {"detail", s.detail}});
    }
    std::cout << nlohmann::json{{"cid", r.cid.to_string()}, {"k", r.params.k}, {"m", r.params.m},
                                {"stripes", r.stripes}, {"intactSlots", r.intact_slots()},
                                {"recoverable", r.recoverable}, {"slots", slots}}.dump(2)
              << "\n";
  } else {
    for (const SlotHealth& s : r.slots) {
      std::cout << "slot " << s.slot << ": " << state_name(s.state);
      if (!s.detail.empty()) std::cout << " (" << s.detail << ")";
      std::cout << "\n";
    }
    std::cout << r.intact_slots() << " of " << r.slots.size() << " slots intact; file is "
              << (r.recoverable ? "recoverable" : "NOT recoverable") << " (needs " << r.params.k << ")\n";
  }
  if (all_intact) return 0;
  return r.recoverable ? kExitDamaged : kExitUnrecoverable;
}

int cmd_damage(const std::optional<std::string>& home_flag, const std::string& cid_text,
               std::uint32_t slot, bool corrupt) {
  auto cid = parse_cid(cid_text);
  if (!cid) return report(cid.error());
  auto node = open_node(home_flag, Access::local_only, "damage");
  if (!node) return report(node.error());
  if (auto ok = node->engine->damage(*cid, slot, corrupt); !ok) return report(ok.error());
  std::cout << (corrupt ? "corrupted one byte of" : "deleted") << " slot " << slot << " of "
            << cid->to_string() << "\n";
  return 0;
}

// --- daemon ----------------------------------------------------------------------------------

int cmd_daemon(const std::optional<std::string>& home_flag, const std::string& log_level) {
  auto dir = resolve_home(home_flag);
  if (!dir) return report(dir.error());
  if (auto ok = run_daemon({*dir, log_level}); !ok) return report(ok.error());
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Open Bucket: encrypted, erasure-coded storage across untrusted machines.", "open-bucket"};
  app.require_subcommand(1);
  std::optional<std::string> home;
  app.add_option("--home", home, "Node home directory (default: $OPEN_BUCKET_HOME or ~/.open-bucket)");
  app.set_version_flag("--version", "open-bucket " + std::string(kVersion));

  std::string log_level = "info";
  auto* daemon = app.add_subcommand(
      "daemon", "Run the node: serve its store over the REST API on 127.0.0.1 until SIGTERM or SIGINT");
  daemon->add_option("--log-level", log_level, "Log detail on stderr (default info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  auto* data = app.add_subcommand(
      "data", "Store and retrieve files on this node (through its daemon when one runs)");
  data->require_subcommand(1);

  PutOptions put_opts;
  auto* put = data->add_subcommand("put", "Encrypt, erasure-code and store a file; prints its CID");
  put->add_option("FILE", put_opts.path, "File to store ('-' for standard input)")->required();
  put->add_option("--k", put_opts.k, "Data blocks per stripe (default from config.toml)");
  put->add_option("--m", put_opts.m, "Parity blocks per stripe: slots that may be lost");
  put->add_option("--block-size", put_opts.block_size, "Block size in bytes (4096..4194304, multiple of 1024)");
  put->add_option("--mime", put_opts.mime_type, "MIME type to record (encrypted with the name)");
  put->add_flag("--json", put_opts.json, "Print the result as JSON");

  std::string cid_text, out_path;
  auto* get = data->add_subcommand("get", "Retrieve a file by CID, rebuilding lost slots, or anyone's by a share token");
  get->add_option("CID", cid_text, "File CID, or a share token (`producer share`) to read from the network")->required();
  get->add_option("OUT", out_path, "Output file or directory ('-' for standard output)")->required();

  bool json = false;
  auto* ls = data->add_subcommand("ls", "List stored files");
  ls->add_flag("--json", json, "Print JSON");

  auto* rm = data->add_subcommand("rm", "Remove a stored file and all its slots");
  rm->add_option("CID", cid_text, "File CID")->required();

  auto* verify = data->add_subcommand(
      "verify", "Check every block of every slot; names damaged slots (works on the store: stop the daemon first)");
  verify->add_option("CID", cid_text, "File CID")->required();
  verify->add_flag("--json", json, "Print JSON");

  std::uint32_t slot = 0;
  bool corrupt = false;
  auto* damage = data->add_subcommand(
      "damage",
      "Test aid: delete (or corrupt) one slot locally to watch reconstruction work (stop the daemon first)");
  damage->add_option("CID", cid_text, "File CID")->required();
  damage->add_option("--slot", slot, "Slot index to damage")->required();
  damage->add_flag("--corrupt", corrupt, "Flip one byte instead of deleting the slot");

  auto* network = app.add_subcommand("network", "The node's peers and the providers of files (needs a running daemon)");
  network->require_subcommand(1);
  std::string peer_text, peer_addr;
  auto* peers = network->add_subcommand("peers", "List the peers added with `network connect`");
  peers->add_flag("--json", json, "Print JSON");
  auto* connect = network->add_subcommand("connect", "Ask a peer for files from now on");
  connect->add_option("PEERID", peer_text, "The peer's ID (12D3KooW...)")->required();
  connect->add_option("ADDR", peer_addr, "Its block exchange address host:port (default: look it up in the DHT)");
  auto* find = network->add_subcommand("find", "Look a peer up in the DHT");
  find->add_option("PEERID", peer_text, "The peer's ID (12D3KooW...)")->required();
  find->add_flag("--json", json, "Print JSON");
  auto* providers = network->add_subcommand("providers", "List who provides a file (this node, the DHT, connected peers)");
  providers->add_option("CID", cid_text, "File CID")->required();
  providers->add_flag("--json", json, "Print JSON");

  const CommandRunner groups[] = {add_init_command(app, home), add_tracker_commands(app, home), add_producer_commands(app, home),
                                  add_consumer_commands(app, home), add_demo_command(app, home), add_nodes_commands(app, home),
                                  add_wallet_commands(app, home), add_market_commands(app, home),
                                  add_debug_commands(app, home), add_mount_commands(app, home)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  for (const CommandRunner& group : groups) {
    if (std::optional<int> code = group()) return *code;
  }
  if (daemon->parsed()) return cmd_daemon(home, log_level);
  if (put->parsed()) return cmd_put(home, put_opts);
  if (get->parsed()) return cmd_get(home, cid_text, out_path);
  if (ls->parsed()) return cmd_ls(home, json);
  if (rm->parsed()) return cmd_rm(home, cid_text);
  if (verify->parsed()) return cmd_verify(home, cid_text, json);
  if (damage->parsed()) return cmd_damage(home, cid_text, slot, corrupt);
  // Path parts are checked here so that nothing but a peer ID or CID reaches the URL.
  if (peers->parsed()) return cmd_network(home, "/v1/peers", json);
  if (connect->parsed() || find->parsed()) {
    auto peer = net::PeerId::parse(peer_text);
    if (!peer) return report(peer.error());
    if (find->parsed()) return cmd_network(home, "/v1/peers/" + peer->to_string(), json);
    if (!peer_addr.empty() && (peer_addr.size() > 260 || peer_addr.find_first_of("&?#/ ") != std::string::npos ||
                               peer_addr.rfind(':') == std::string::npos)) {
      return report(Error{Errc::invalid_argument, "ADDR must be host:port"});
    }
    return cmd_network(home, "/v1/connect/" + peer->to_string() + (peer_addr.empty() ? "" : "?addrs=" + peer_addr), false);
  }
  if (providers->parsed()) {
    auto cid = parse_cid(cid_text);
    if (!cid) return report(cid.error());
    return cmd_network(home, "/v1/providers/" + cid->to_string(), json);
  }
  return kExitUsage;
}

}  // namespace ob::cli

int main(int argc, char** argv) {
  try {
    return ob::cli::run(argc, argv);
  } catch (const std::exception& e) {
    // Only allocation failure and library bugs get here; say so rather than abort.
    std::cerr << "open-bucket: internal error: " << e.what() << "\n";
    return ob::cli::kExitError;
  }
}
