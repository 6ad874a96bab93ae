// Fuzz target: the REST API's JSON routes (api/producer_routes.h, consumer_routes.h,
// wallet_routes.h) called as the server calls them (api::call_json_route: JSON parsing, the NUL
// check, then the handler), without a socket. Each input is a sequence of frames (frames.h):
//
//   op       the route, by its index in the daemon's order (op modulo the number of routes)
//   payload  the request body as sent; for a route with a "{name}" segment, the segment, a
//            newline, then the body
//
// The roles run as a daemon's would, sandboxed in a temporary directory, which is also $HOME
// and the working directory: the home (config.toml, state, wallet) and the Producer and
// Consumer directories are put back as they were before each input, so an input replays the
// same way. No tracker and no Ethereum node are configured (roles refuse to start, the wallet
// does not reach a chain): nothing leaves the process. The Consumer needs a Network, started
// once on 127.0.0.1 without bootstrap nodes, so it sends nothing. Bodies never reach the real
// disk outside the sandbox: before the call, every JSON string starting with '/' is moved under
// the sandbox and every ".." is broken up (the body is then sent re-serialized).
// Keystores use scrypt N = 1024 (OPEN_BUCKET_TEST_SCRYPT_N), not the 2^18 of real keys.
//
// Beyond "no crash, no sanitizer report, no leak, no exception out of a handler", it checks:
//   - every reply's status is one the API documents (200, 202, 400, 404, 409, 413), and an error
//     has a body {"msg": a non-empty string, ...};
//   - a refused request (4xx) changes nothing stored: config.toml is the same bytes after it.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/consumer_routes.h"
#include "api/producer_routes.h"
#include "api/rest_server.h"
#include "api/wallet_routes.h"
#include "frames.h"
#include "fuzz_check.h"
#include "net/identity.h"
#include "node/consumer/consumer.h"
#include "node/engine.h"
#include "node/home.h"
#include "node/network.h"
#include "node/producer/producer.h"
#include "store/file_io.h"
#include "wallet/wallet_store.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void setup_failed(const std::string& what) {
  std::fprintf(stderr, "rest_fuzz: setup failed: %s\n", what.c_str());
  std::abort();
}

// What lives for the whole process: the sandbox, the engine (RocksDB) and the network.
struct World {
  fs::path root;
  fs::path home_dir;
  ob::NodeConfig config;
  std::string config_text;  // config.toml as initialised, restored before each input
  std::unique_ptr<ob::Home> first_home;  // the engine and identity's
  std::unique_ptr<ob::Engine> engine;
  std::unique_ptr<ob::net::Identity> identity;
  std::unique_ptr<ob::Network> network;
};

World& world() {
  static World* w = [] {
    auto* out = new World;
    out->root = fs::temp_directory_path() / ("ob-rest-fuzz-" + ob::fileio::random_suffix());
    out->home_dir = out->root / "home";
    fs::create_directories(out->root / "user");
    // "~/" paths and the systemd user units of startOnStartup land in the sandbox.
    ::setenv("HOME", (out->root / "user").c_str(), 1);
    ::unsetenv("XDG_CONFIG_HOME");
    ::setenv("OPEN_BUCKET_TEST_SCRYPT_N", "1024", 1);
    std::error_code ec;
    fs::current_path(out->root, ec);
    if (ec) setup_failed("cannot enter the sandbox: " + ec.message());
    out->config.sync = false;
    out->config.coding = ob::CodingParams{2, 1, 4096};
    out->config.default_availability = 2;
    out->config.producer_directory = (out->root / "produce").string();
    out->config.consumer_directory = (out->root / "consume").string();
    out->config.consumer_limit_bytes = 1'000'000'000;
    out->config.chain_id = 31337;  // the wallet's payment requests need no node to know the chain
    if (auto ok = ob::Home::init(out->home_dir, false, out->config); !ok) setup_failed(ok.error().message);
    auto text = ob::fileio::read_file(out->home_dir / "config.toml", 1 << 20);
    if (!text) setup_failed(text.error().message);
    out->config_text.assign(ob::as_chars(*text));
    auto home = ob::Home::open(out->home_dir);
    if (!home) setup_failed(home.error().message);
    out->first_home = std::make_unique<ob::Home>(std::move(*home));
    auto engine = ob::Engine::open(*out->first_home);
    if (!engine) setup_failed(engine.error().message);
    out->engine = std::move(*engine);
    auto identity = ob::net::Identity::load_or_create(out->first_home->identity_key_path());
    if (!identity) setup_failed(identity.error().message);
    out->identity = std::make_unique<ob::net::Identity>(std::move(*identity));
    ob::NetworkOptions options;
    options.network_id = 0x0f0f0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
    auto network = ob::Network::start(*out->engine, *out->identity, options);
    if (!network) setup_failed(network.error().message);
    out->network = std::move(*network);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(world().root, ignored);
    });
    return out;
  }();
  return *w;
}

/// Puts the sandbox back as initialised: in the home, only the keys, the engine's stores and
/// config.toml (rewritten) stay; beside it, only an empty $HOME.
void reset_sandbox() {
  World& w = world();
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (const fs::path& base : {w.root, w.home_dir}) {
    for (const auto& entry : fs::directory_iterator(base, ec)) {
      const std::string name = entry.path().filename().string();
      if (name != "home" && name != "keys" && name != "blocks" && name != "slots" && name != "config.toml") {
        doomed.push_back(entry.path());
      }
    }
  }
  for (const fs::path& path : doomed) fs::remove_all(path, ec);
  fs::create_directories(w.root / "user", ec);
  if (auto ok = ob::fileio::write_file_atomic(w.home_dir / "config.toml", ob::as_bytes(w.config_text), 0600); !ok) {
    setup_failed(ok.error().message);
  }
}

/// Keeps a body's paths inside the sandbox: strings starting with '/' move under it, and ".."
/// is broken up everywhere. False when nothing needed changing.
bool confine(json& value) {
  bool changed = false;
  if (value.is_string()) {
    std::string& s = value.get_ref<std::string&>();
    for (std::size_t at; (at = s.find("..")) != std::string::npos;) {
      s[at + 1] = '_';
      changed = true;
    }
    if (s.starts_with('/')) {
      s = world().root.string() + s;
      changed = true;
    }
  } else if (value.is_structured()) {
    for (json& item : value) changed = confine(item) || changed;
  }
  return changed;
}

std::string config_now() {
  auto text = ob::fileio::read_file(world().home_dir / "config.toml", 1 << 20);
  return text ? std::string(ob::as_chars(*text)) : std::string("(unreadable: ") + text.error().message + ")";
}

void call(const ob::api::JsonRoute& route, std::string_view payload) {
  std::string path = route.path;
  std::string_view body_text = payload;
  if (route.segment_handler) {
    const std::size_t newline = payload.find('\n');
    const std::string_view segment = payload.substr(0, newline);
    body_text = newline == std::string_view::npos ? std::string_view() : payload.substr(newline + 1);
    if (segment.empty() || segment.find('/') != std::string_view::npos || segment.find("..") != std::string_view::npos) {
      return;  // the router would not match it: another route, or 404
    }
    const std::size_t open = path.find('{');
    path.replace(open, path.find('}') - open + 1, segment);
  }
  std::string confined;
  if (json parsed = json::parse(body_text, nullptr, false); !parsed.is_discarded() && confine(parsed)) {
    confined = parsed.dump(-1, ' ', false, json::error_handler_t::ignore);
    body_text = confined;
  }
  const std::string before = config_now();
  const ob::api::JsonReply reply = ob::api::call_json_route(route, path, body_text);
  switch (reply.status) {
    case 200: case 202: case 400: case 404: case 409: case 413: break;
    default:
      std::fprintf(stderr, "%s %s: status %d %s\n", route.method.c_str(), path.c_str(), reply.status,
                   reply.body.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
      OB_FUZZ_CHECK(false);
  }
  if (reply.status >= 400) {
    OB_FUZZ_CHECK(reply.body.is_object());
    const auto msg = reply.body.find("msg");
    OB_FUZZ_CHECK(msg != reply.body.end() && msg->is_string() && !msg->get<std::string>().empty());
    if (config_now() != before) {
      std::fprintf(stderr, "%s %s refused with %d but changed config.toml\n", route.method.c_str(), path.c_str(),
                   reply.status);
      OB_FUZZ_CHECK(false);
    }
  } else {
    OB_FUZZ_CHECK(reply.body.is_object() || reply.body.is_array());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = world();
  reset_sandbox();
  auto home = ob::Home::open(w.home_dir);
  OB_FUZZ_CHECK(home.has_value());
  {
    auto producer = ob::producer::Producer::open(*home, *w.engine, nullptr, std::nullopt);
    OB_FUZZ_CHECK(producer.has_value());
    auto consumer = ob::consumer::Consumer::create(*home, *w.engine, *w.network, std::nullopt, home->config());
    OB_FUZZ_CHECK(consumer.has_value());
    const auto resolve_account = [dir = w.home_dir](const std::string& which) -> ob::Result<std::string> {
      OB_TRY(ob::wallet::Account account, ob::wallet::WalletStore(dir).find(which));
      return account.address.to_checksum();
    };
    ob::chain::ChainSettings chain;  // no rpc: nothing is sent
    chain.chain_id = w.config.chain_id;
    std::vector<ob::api::JsonRoute> routes = ob::api::producer_routes(**producer);
    for (auto& r : ob::api::consumer_routes(**consumer, resolve_account)) routes.push_back(std::move(r));
    for (auto& r : ob::api::wallet_routes(w.home_dir, chain)) routes.push_back(std::move(r));

    ob::fuzz::FrameReader frames(data, size);
    for (ob::fuzz::Frame frame; frames.next(frame);) call(routes[frame.op % routes.size()], frame.payload);
    (*producer)->shutdown();
    (*consumer)->shutdown();
  }
  return 0;
}
