// `open-bucket nodes create|ls|status|resize|rm|up|down|supervise` (issue 5, seed 002): a fleet
// of consumer nodes on this machine, each with its own home, ports and data directory under
// <home>/nodes/, kept running by a supervisor process (node/fleet.h has the files and the
// supervisor; docs/cli.md "nodes" the commands).
//
// Everything goes through interfaces a user has: each node's daemon.json and REST API
// (/v1/consumer/*), the tracker's gRPC (Consumer.Status, Market.CheckHolders) with the node's
// own identity, and signals to the supervisor (SIGHUP: re-read fleet.json; SIGTERM: stop).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/units.h"
#include "net/identity.h"
#include "net/tls.h"
#include "node/daemon.h"
#include "node/fleet.h"
#include "node/home.h"
#include "store/file_io.h"
#include "tracker/tracker_client.h"

namespace ob::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace pb = openbucket::tracker::v1;

/// The global home and its fleet's directory, both absolute (the supervisor outlives our cwd).
struct Place {
  std::filesystem::path home;
  std::filesystem::path dir;
};

Result<Place> place(const std::optional<std::string>& home_flag) {
  OB_TRY(std::filesystem::path home, resolve_home(home_flag));
  std::error_code ec;
  home = std::filesystem::absolute(home, ec);
  if (ec) return fail(Errc::invalid_argument, "cannot resolve the home: ", ec.message());
  return Place{home, fleet::fleet_dir(home)};
}

/// "3" or "node-3" as a node ID of the fleet. Errors (not_found): not a node of the fleet.
Result<fleet::FleetNode> find_node(const Place& at, const std::string& text) {
  std::string digits = text.starts_with("node-") ? text.substr(5) : text;
  std::uint32_t id = 0;
  const bool numeric = !digits.empty() && digits.size() <= 9 &&
                       digits.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) id = static_cast<std::uint32_t>(std::stoul(digits));
  OB_TRY(fleet::Fleet fleet, fleet::read_fleet(at.dir));
  if (const fleet::FleetNode* node = numeric ? fleet.find(id) : nullptr) return *node;
  return fail(Errc::not_found, "unknown node ID \"", text, "\" (see `open-bucket nodes ls`)");
}

/// A size as people write it ("10 GB"). Errors (invalid_argument) with the rule.
Result<std::uint64_t> parse_node_size(const std::string& text) {
  auto bytes = parse_size(text);
  if (!bytes) return fail(Errc::invalid_argument, "bad size \"", text, "\": ", bytes.error().message);
  return *bytes;
}

/// Polls `ready` every 200 ms until it yields a value or `timeout` passes; the error then says
/// what was awaited and the last reason it was not ready. `bar`, when given, shows what is
/// awaited, the last reason and the time so far (docs/cli.md "Progress and output").
template <typename F>
auto poll_until(std::chrono::seconds timeout, const std::string& what, F&& ready, ProgressBar* bar = nullptr)
    -> decltype(ready()) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto result = ready();
    if (result) return result;
    if (Clock::now() > deadline) {
      return fail(Errc::io, "timed out after ", timeout.count(), " s waiting for ", what, " (", result.error().message,
                  ")");
    }
    if (bar != nullptr) bar->wait("waiting for " + what + ": " + result.error().message);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

/// The supervisor of the fleet: signalled with SIGHUP (re-read fleet.json) when it runs,
/// started in the background otherwise. Returns its pid.
Result<long> ensure_supervisor(const Place& at) {
  if (auto running = fleet::running_supervisor(at.dir)) {
    ::kill(static_cast<pid_t>(running->pid), SIGHUP);
    return running->pid;
  }
  const std::filesystem::path log = at.dir / "supervisor.log";
  OB_TRY(pid_t pid, spawn_self({"--home", at.home.string(), "nodes", "supervise"}, log, /*tied=*/false));
  return poll_until(std::chrono::seconds(15), "the supervisor to start", [&]() -> Result<long> {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      // Another `nodes` command may have started one at the same moment: that one will do.
      if (auto other = fleet::running_supervisor(at.dir)) return other->pid;
      return fail(Errc::io, "the supervisor did not start: ", last_line(log));
    }
    auto running = fleet::running_supervisor(at.dir);
    if (!running || running->pid != pid) return fail(Errc::not_found, "no supervisor.json yet");
    return static_cast<long>(pid);
  });
}

/// A REST client of a node's daemon; nullopt when none answers.
Result<std::optional<api::RestClient>> node_client(const fleet::FleetNode& node) {
  OB_TRY(Home home, Home::open(node.home));
  return api::RestClient::connect(home);
}

/// A client of the tracker in the node's config.toml, presenting the node's own identity.
Result<tracker::TrackerClient> tracker_for(const fleet::FleetNode& node) {
  OB_TRY(Home home, Home::open(node.home));
  if (home.config().tracker.empty()) return fail(Errc::invalid_argument, "no tracker configured for node ", node.id);
  OB_TRY(tracker::TrackerAddress address, tracker::TrackerAddress::parse(home.config().tracker));
  OB_TRY(net::Identity identity, net::Identity::load_or_create(home.identity_key_path()));
  OB_TRY(net::TlsIdentity tls, net::make_tls_identity(identity));
  return tracker::TrackerClient::connect(address, tls);
}

std::uint64_t u64(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_unsigned() ? j[key].get<std::uint64_t>() : 0;
}
std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

/// What `nodes ls` and `nodes status` show of one node.
struct NodeView {
  fleet::FleetNode node;
  std::string status = "stopped";  ///< the supervisor's word; "stopped" when none runs
  long pid = 0;
  std::uint32_t restarts = 0;
  std::string last_exit;
  std::optional<DaemonInfo> daemon;  ///< daemon.json of a live daemon
  std::optional<json> slots;         ///< GET /v1/consumer/slots, when the daemon answers
  std::string slots_error;
};

NodeView inspect(const fleet::FleetNode& node, const std::optional<fleet::SupervisorState>& supervisor) {
  NodeView view;
  view.node = node;
  if (supervisor) {
    const fleet::NodeState* state = supervisor->find(node.id);
    view.status = state ? state->status : "starting";  // added, not seen by the supervisor yet
    if (state) {
      view.pid = state->pid;
      view.restarts = state->restarts;
      view.last_exit = state->last_exit;
    }
  }
  view.daemon = running_daemon(node.home);
  // The supervisor looks at daemon.json once a tick; it may already name the daemon it started.
  if (view.status == "starting" && view.daemon && view.daemon->pid == view.pid) view.status = "running";
  if (view.daemon) {
    auto client = node_client(node);
    if (!client) {
      view.slots_error = client.error().message;
    } else if (!*client) {
      view.slots_error = "the daemon does not answer";
    } else if (auto slots = (*client)->get_json("/v1/consumer/slots")) {
      view.slots = std::move(*slots);
    } else {
      view.slots_error = slots.error().message;
    }
  } else {
    view.slots_error = "no daemon runs";
  }
  return view;
}

std::string p2p_port(const std::optional<DaemonInfo>& daemon) {
  if (!daemon) return "-";
  const auto colon = daemon->p2p_address.rfind(':');
  return colon == std::string::npos ? "-" : daemon->p2p_address.substr(colon + 1);
}

json view_json(const NodeView& v) {
  json j = {{"id", v.node.id},
            {"home", v.node.home.string()},
            {"status", v.status},
            {"pid", v.pid},
            {"restarts", v.restarts},
            {"size", format_size(v.node.size_bytes)},
            {"sizeBytes", v.node.size_bytes},
            {"peerId", v.daemon ? v.daemon->peer_id : ""},
            {"apiPort", v.daemon ? v.daemon->api_port : 0},
            {"p2pAddress", v.daemon ? v.daemon->p2p_address : ""},
            {"usedBytes", v.slots ? u64(*v.slots, "usedBytes") : 0},
            {"slots", v.slots && v.slots->contains("slots") ? (*v.slots)["slots"].size() : 0}};
  return j;
}

// --- create -------------------------------------------------------------------------------------

struct CreateOptions {
  std::uint32_t count = 1;
  std::string size = "10 GB";
  std::optional<std::string> tracker;
  std::uint32_t timeout_s = 60;
  bool json = false;
};

/// The template of every node's config.toml: this home's config.toml when it has one (network
/// ID, tracker, p2p host, bootstrap, coding, sync), on free ports, with the node's own data.
Result<NodeConfig> node_template(const Place& at, const CreateOptions& o) {
  NodeConfig config;
  const std::filesystem::path toml = at.home / "config.toml";
  std::error_code ec;
  if (std::filesystem::exists(toml, ec)) {
    OB_TRY(Bytes text, fileio::read_file(toml, 1024 * 1024));
    OB_TRY(config, NodeConfig::from_toml(as_chars(text)));
  }
  if (o.tracker) config.tracker = *o.tracker;
  if (config.tracker.empty()) {
    return fail(Errc::invalid_argument, "no tracker configured: pass --tracker PEERID@host:port or set [tracker] address in ",
                toml.string());
  }
  OB_TRY(tracker::TrackerAddress parsed, tracker::TrackerAddress::parse(config.tracker));
  (void)parsed;
  config.api_port = 0;
  config.p2p_port = 0;
  config.dht_port = 0;
  config.producer_directory.clear();
  config.consumer_directory.clear();
  config.producer_start_on_startup = false;
  config.consumer_start_on_startup = true;  // a daemon the supervisor restarts serves again at once
  return config;
}

int cmd_create(const std::optional<std::string>& home_flag, const CreateOptions& o) {
  const auto run = [&]() -> Result<void> {
    OB_TRY(Place at, place(home_flag));
    OB_TRY(std::uint64_t size, parse_node_size(o.size));
    if (size == 0) return fail(Errc::invalid_argument, "bad size \"", o.size, "\": a node needs more than 0 bytes");
    OB_TRY(NodeConfig config, node_template(at, o));
    config.consumer_limit_bytes = size;

    std::vector<fleet::FleetNode> created;
    Result<void> initialised;
    {
      OB_TRY(fleet::FileLock lock, fleet::lock_fleet(at.dir));
      OB_TRY(fleet::Fleet fleet, fleet::read_fleet(at.dir));
      for (std::uint32_t i = 0; i < o.count && initialised; ++i) {
        const std::uint32_t id = fleet.next_id++;
        const fleet::FleetNode node{id, at.dir / fleet::node_dir_name(id), size, true};
        if (auto init = Home::init(node.home, /*force=*/false, config); !init) {
          initialised = std::unexpected(prefixed(init.error(), "node " + std::to_string(id)));
          break;
        }
        fleet.nodes.push_back(node);
        created.push_back(node);
      }
      // The nodes initialised so far stay in the fleet even when one failed: nothing is orphaned.
      OB_TRY_VOID(fleet::write_fleet(at.dir, fleet));
      if (!initialised && created.empty()) return initialised;
      if (!initialised) std::cerr << "open-bucket: " << initialised.error().message << "; starting the nodes created before it\n";
    }
    OB_TRY(long supervisor, ensure_supervisor(at));
    if (!o.json) std::cerr << "supervisor pid " << supervisor << " (log " << (at.dir / "supervisor.log").string() << ")\n";

    // Each daemon answers and its consumer is started (idempotent; it also records the start).
    json out = json::array();
    const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);
    ProgressBar bar("nodes create", o.json);
    for (const fleet::FleetNode& node : created) {
      bar.set_label("nodes create " + std::to_string(out.size()) + "/" + std::to_string(created.size()) + " started");
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
      OB_TRY(api::RestClient client,
             poll_until(std::max(left, std::chrono::seconds(1)), "node " + std::to_string(node.id) + "'s daemon",
                        [&]() -> Result<api::RestClient> {
                          OB_TRY(std::optional<api::RestClient> c, node_client(node));
                          if (!c) return fail(Errc::not_found, "not answering yet; see " + (node.home / "daemon.log").string());
                          return std::move(*c);
                        },
                        &bar));
      OB_TRY(json reply, client.post_json("/v1/consumer/start", json::object()));
      (void)reply;
      const auto info = running_daemon(node.home);
      out.push_back({{"id", node.id},
                     {"home", node.home.string()},
                     {"size", format_size(size)},
                     {"peerId", info ? info->peer_id : ""},
                     {"apiPort", info ? info->api_port : 0}});
      if (!o.json) {
        bar.finish();
        std::cout << "node " << node.id << ": consumer started, " << format_size(size) << ", peer "
                  << (info ? info->peer_id : "?") << ", API port " << (info ? info->api_port : 0) << "\n";
      }
    }
    if (o.json) std::cout << out.dump(2) << "\n";
    return initialised;  // the nodes that could be created run; the command still fails
  };
  if (auto ok = run(); !ok) return report(ok.error());
  return 0;
}

// --- ls and status ------------------------------------------------------------------------------

int cmd_ls(const std::optional<std::string>& home_flag, bool as_json) {
  auto at = place(home_flag);
  if (!at) return report(at.error());
  auto fleet = fleet::read_fleet(at->dir);
  if (!fleet) return report(fleet.error());
  const auto supervisor = fleet::running_supervisor(at->dir);
  json out = json::array();
  if (!as_json) {
    std::printf("%-4s %-19s %-8s %-6s %-6s %-9s %-9s %-5s %s\n", "ID", "STATUS", "PID", "API", "P2P", "SIZE", "USED",
                "SLOTS", "PEER ID");
  }
  for (const fleet::FleetNode& node : fleet->nodes) {
    const NodeView v = inspect(node, supervisor);
    const json j = view_json(v);
    if (as_json) {
      out.push_back(j);
      continue;
    }
    std::printf("%-4u %-19s %-8ld %-6s %-6s %-9s %-9s %-5s %s\n", node.id, v.status.c_str(), v.pid,
                v.daemon ? std::to_string(v.daemon->api_port).c_str() : "-", p2p_port(v.daemon).c_str(),
                format_size(node.size_bytes).c_str(), v.slots ? format_size(u64(*v.slots, "usedBytes")).c_str() : "-",
                v.slots ? std::to_string(j["slots"].get<std::size_t>()).c_str() : "-",
                v.daemon ? v.daemon->peer_id.c_str() : "-");
  }
  if (as_json) std::cout << out.dump(2) << "\n";
  if (!supervisor && !fleet->nodes.empty() && !as_json) {
    std::cerr << "no supervisor runs: start the nodes with `open-bucket nodes up`\n";
  }
  return 0;
}

int cmd_status(const std::optional<std::string>& home_flag, const std::string& id, bool as_json) {
  auto at = place(home_flag);
  if (!at) return report(at.error());
  auto node = find_node(*at, id);
  if (!node) return report(node.error());
  const NodeView v = inspect(*node, fleet::running_supervisor(at->dir));
  json j = view_json(v);
  j["lastExit"] = v.last_exit;
  j["daemonAnswering"] = v.slots.has_value();
  j["consumerStarted"] = v.slots && v.slots->value("started", false);
  j["registered"] = v.slots && v.slots->value("registered", false);
  j["limitBytes"] = v.slots ? u64(*v.slots, "limitBytes") : 0;
  if (!v.slots) j["daemonError"] = v.slots_error;

  // The tracker's view: the node asks for its own standing (Consumer.Status) with its identity.
  json standing;
  std::string tracker_error;
  if (auto client = tracker_for(*node)) {
    pb::ConsumerStatusReply reply;
    auto context = tracker::call_context(std::chrono::seconds(3));
    const grpc::Status status = client->consumer().Status(context.get(), pb::ConsumerStatusRequest{}, &reply);
    if (status.ok()) {
      standing = {{"online", reply.info().online()},
                  {"slots", reply.info().slots()},
                  {"usedBytes", reply.info().used_bytes()},
                  {"auditsPassed", reply.info().audits_passed()},
                  {"auditsFailed", reply.info().audits_failed()},
                  {"nicePoints", reply.info().nice_points()}};
    } else {
      tracker_error = tracker::call_error("Consumer.Status", status).message;
    }
  } else {
    tracker_error = client.error().message;
  }
  if (!standing.is_null()) {
    j["tracker"] = standing;
  } else {
    j["tracker"] = nullptr;
    j["trackerError"] = tracker_error;
  }
  if (as_json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "node " << node->id << " (" << node->home.string() << ")\n";
  std::cout << "  status     " << v.status;
  if (v.pid > 0) std::cout << ", pid " << v.pid;
  std::cout << ", " << v.restarts << " restart" << (v.restarts == 1 ? "" : "s");
  if (!v.last_exit.empty()) std::cout << " (last exit: " << v.last_exit << ")";
  std::cout << "\n";
  if (v.slots) {
    std::cout << "  daemon     answering on 127.0.0.1:" << v.daemon->api_port << ", peer " << v.daemon->peer_id
              << ", block exchange " << v.daemon->p2p_address << "\n";
    std::cout << "  consumer   " << (j["consumerStarted"].get<bool>() ? "started" : "stopped") << ", "
              << (j["registered"].get<bool>() ? "registered with the tracker" : "NOT registered with the tracker")
              << "\n";
    std::cout << "  slots      " << j["slots"].get<std::size_t>() << ", " << format_size(u64(*v.slots, "usedBytes"))
              << " of " << format_size(u64(*v.slots, "limitBytes")) << "\n";
  } else {
    std::cout << "  daemon     not answering: " << v.slots_error << "\n";
  }
  if (!standing.is_null()) {
    char nice[32];
    std::snprintf(nice, sizeof nice, "%.1f", standing["nicePoints"].get<double>());
    std::cout << "  tracker    " << (standing["online"].get<bool>() ? "online" : "offline") << ", "
              << standing["slots"].get<std::uint32_t>() << " slots, audits " << standing["auditsPassed"].get<std::uint64_t>()
              << " passed / " << standing["auditsFailed"].get<std::uint64_t>() << " failed, nice points " << nice
              << "\n";
  } else {
    std::cout << "  tracker    unknown: " << tracker_error << "\n";
  }
  return 0;
}

// --- resize -------------------------------------------------------------------------------------

int cmd_resize(const std::optional<std::string>& home_flag, const std::string& id, const std::string& size_text) {
  const auto run = [&]() -> Result<void> {
    OB_TRY(Place at, place(home_flag));
    OB_TRY(fleet::FleetNode node, find_node(at, id));
    OB_TRY(std::uint64_t size, parse_node_size(size_text));
    OB_TRY(std::optional<api::RestClient> client, node_client(node));
    if (client) {
      // The daemon applies it now: a lower limit gives up slots (the tracker re-places them).
      OB_TRY(json reply, client->post_json("/v1/consumer/configs", {{"limit", size_text}}));
      (void)reply;
    } else {
      // No daemon: its config.toml, for the next start.
      OB_TRY(Home home, Home::open(node.home));
      NodeConfig config = home.config();
      config.consumer_limit_bytes = size;
      OB_TRY_VOID(save_config(node.home, config));
    }
    OB_TRY(fleet::FileLock lock, fleet::lock_fleet(at.dir));
    OB_TRY(fleet::Fleet fleet, fleet::read_fleet(at.dir));
    fleet::FleetNode* entry = fleet.find(node.id);
    if (entry == nullptr) return fail(Errc::not_found, "node ", node.id, " was removed meanwhile");
    entry->size_bytes = size;
    OB_TRY_VOID(fleet::write_fleet(at.dir, fleet));
    std::cout << "node " << node.id << ": limit " << format_size(size) << (client ? "" : " (applied at its next start)")
              << "\n";
    return {};
  };
  if (auto ok = run(); !ok) return report(ok.error());
  return 0;
}

// --- rm -----------------------------------------------------------------------------------------

struct RmOptions {
  std::string id;
  std::uint32_t timeout_s = 300;
  bool force = false;
};

/// (file ID, slot index) pairs a consumer listing holds.
std::set<std::pair<std::string, std::uint32_t>> held_slots(const json& listing) {
  std::set<std::pair<std::string, std::uint32_t>> held;
  if (!listing.contains("slots") || !listing["slots"].is_array()) return held;
  for (const json& slot : listing["slots"]) {
    if (!str(slot, "fileId").empty()) held.emplace(str(slot, "fileId"), static_cast<std::uint32_t>(u64(slot, "slot")));
  }
  return held;
}

/// Hands every slot of `node` over to the network: limit 0 (the consumer gives them all up, and
/// reports capacity 0 so nothing new is placed there), then waits until it holds none and the
/// tracker names another consumer storing each slot it held.
Result<void> drain(const fleet::FleetNode& node, api::RestClient& client, std::chrono::seconds timeout,
                   ProgressBar& bar) {
  OB_TRY(json before, client.get_json("/v1/consumer/slots"));
  const auto held = held_slots(before);
  const std::string self = running_daemon(node.home) ? running_daemon(node.home)->peer_id : "";
  std::cerr << "node " << node.id << ": handing over " << held.size() << " slot(s)\n";
  OB_TRY(json applied, client.post_json("/v1/consumer/configs", {{"limit", "0 B"}}));
  (void)applied;
  const auto deadline = Clock::now() + timeout;
  const auto left = [&] { return std::max(std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()),
                                          std::chrono::seconds(1)); };
  std::size_t last = held.size() + 1;
  OB_TRY_VOID(poll_until(left(), "node " + std::to_string(node.id) + " to give up its slots", [&]() -> Result<void> {
    OB_TRY(json now, client.get_json("/v1/consumer/slots"));
    const std::size_t count = held_slots(now).size();
    if (count != last) {
      bar.finish();
      std::cerr << "  " << count << " slot(s) still held\n";
    }
    last = count;
    if (count > 0) return fail(Errc::not_found, std::to_string(count) + " slot(s) still held");
    return {};
  }, &bar));
  if (held.empty()) return {};
  OB_TRY(tracker::TrackerClient tracker, tracker_for(node));
  std::size_t last_missing = held.size() + 1;
  return poll_until(left(), "the tracker to re-place node " + std::to_string(node.id) + "'s slots", [&]() -> Result<void> {
    std::size_t missing = 0;
    std::map<std::string, pb::CheckHoldersReply> holders;
    for (const auto& [file, slot] : held) {
      if (!holders.contains(file)) {
        pb::CheckHoldersRequest request;
        request.set_file_id(file);
        auto context = tracker::call_context(std::chrono::seconds(5));
        pb::CheckHoldersReply reply;
        const grpc::Status status = tracker.market().CheckHolders(context.get(), request, &reply);
        if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          holders[file];  // removed meanwhile: nothing to wait for
          continue;
        }
        if (!status.ok()) return std::unexpected(tracker::call_error("Market.CheckHolders", status));
        holders[file] = std::move(reply);
      }
      const pb::CheckHoldersReply& reply = holders[file];
      bool elsewhere = reply.holders().empty();  // NOT_FOUND above
      for (const pb::SlotHolder& holder : reply.holders()) {
        elsewhere = elsewhere || (holder.slot() == slot && holder.stored() && holder.consumer().peer_id() != self);
      }
      missing += !elsewhere;
    }
    if (missing != last_missing) {
      bar.finish();
      std::cerr << "  " << missing << " slot(s) not yet stored elsewhere\n";
    }
    last_missing = missing;
    if (missing > 0) return fail(Errc::not_found, std::to_string(missing) + " slot(s) not yet stored elsewhere");
    return {};
  }, &bar);
}

int cmd_rm(const std::optional<std::string>& home_flag, const RmOptions& o) {
  const auto run = [&]() -> Result<void> {
    OB_TRY(Place at, place(home_flag));
    OB_TRY(fleet::FleetNode node, find_node(at, o.id));
    OB_TRY(std::optional<api::RestClient> client, node_client(node));
    ProgressBar bar("nodes rm " + std::to_string(node.id), /*json=*/false);
    if (client) {
      if (auto drained = drain(node, *client, std::chrono::seconds(o.timeout_s), bar); !drained && !o.force) {
        return fail(drained.error().code, drained.error().message,
                    "; the node stays, with limit 0 (run `nodes rm` again, or with --force to remove it anyway)");
      }
    } else if (!o.force) {
      return fail(Errc::io, "node ", node.id,
                  "'s daemon does not answer, so it cannot hand its slots over: start it (`nodes up`) or pass --force "
                  "(the tracker then repairs its slots once it sees the node offline)");
    }

    // Out of the fleet; the supervisor stops its daemon.
    {
      OB_TRY(fleet::FileLock lock, fleet::lock_fleet(at.dir));
      OB_TRY(fleet::Fleet fleet, fleet::read_fleet(at.dir));
      std::erase_if(fleet.nodes, [&](const fleet::FleetNode& n) { return n.id == node.id; });
      OB_TRY_VOID(fleet::write_fleet(at.dir, fleet));
    }
    if (auto supervisor = fleet::running_supervisor(at.dir)) {
      ::kill(static_cast<pid_t>(supervisor->pid), SIGHUP);
      OB_TRY_VOID(poll_until(std::chrono::seconds(30), "the supervisor to stop node " + std::to_string(node.id),
                             [&]() -> Result<void> {
                               auto now = fleet::running_supervisor(at.dir);
                               if (now && now->find(node.id)) return fail(Errc::not_found, "still supervised");
                               if (running_daemon(node.home)) return fail(Errc::not_found, "its daemon still runs");
                               return {};
                             },
                             &bar));
    } else if (auto daemon = running_daemon(node.home)) {
      // No supervisor: stop the daemon ourselves.
      ::kill(static_cast<pid_t>(daemon->pid), SIGTERM);
      auto stopped = poll_until(std::chrono::seconds(15), "node " + std::to_string(node.id) + "'s daemon to stop",
                                [&]() -> Result<void> {
                                  if (running_daemon(node.home)) return fail(Errc::not_found, "still running");
                                  return {};
                                },
                                &bar);
      if (!stopped) ::kill(static_cast<pid_t>(daemon->pid), SIGKILL);
    }
    bar.finish();
    std::error_code ec;
    std::filesystem::remove_all(node.home, ec);
    if (ec) return fail(Errc::io, "node ", node.id, " stopped, but ", node.home.string(), " could not be deleted: ", ec.message());
    std::cout << "node " << node.id << " removed\n";
    return {};
  };
  if (auto ok = run(); !ok) return report(ok.error());
  return 0;
}

// --- up, down, supervise ------------------------------------------------------------------------

int cmd_up(const std::optional<std::string>& home_flag) {
  auto at = place(home_flag);
  if (!at) return report(at.error());
  auto pid = ensure_supervisor(*at);
  if (!pid) return report(pid.error());
  std::cout << "supervisor pid " << *pid << "\n";
  return 0;
}

int cmd_down(const std::optional<std::string>& home_flag) {
  const auto run = [&]() -> Result<void> {
    OB_TRY(Place at, place(home_flag));
    auto supervisor = fleet::running_supervisor(at.dir);
    if (!supervisor) {
      std::cout << "no supervisor runs\n";
      return {};
    }
    ::kill(static_cast<pid_t>(supervisor->pid), SIGTERM);
    ProgressBar bar("nodes down", /*json=*/false);
    // Its own deadline is 10 s per daemon (SIGTERM, then SIGKILL).
    OB_TRY_VOID(poll_until(std::chrono::seconds(30), "the supervisor to stop", [&]() -> Result<void> {
      if (::kill(static_cast<pid_t>(supervisor->pid), 0) == 0) return fail(Errc::not_found, "still running");
      return {};
    }, &bar));
    bar.finish();
    std::cout << "supervisor and nodes stopped\n";
    return {};
  };
  if (auto ok = run(); !ok) return report(ok.error());
  return 0;
}

int cmd_supervise(const std::optional<std::string>& home_flag) {
  auto at = place(home_flag);
  if (!at) return report(at.error());
  fleet::SupervisorOptions options;
  options.dir = at->dir;
  options.spawn = [](const fleet::FleetNode& node, const std::filesystem::path& log) -> Result<pid_t> {
    // Tied: should the supervisor itself die, its daemons go with it rather than run unwatched.
    return spawn_self({"--home", node.home.string(), "daemon"}, log, /*tied=*/true);
  };
  if (auto ok = fleet::run_supervisor(options); !ok) return report(ok.error());
  return 0;
}

}  // namespace

CommandRunner add_nodes_commands(CLI::App& app, const std::optional<std::string>& home) {
  auto* nodes = app.add_subcommand(
      "nodes", "Run a fleet of storage nodes (consumers) on this machine under a supervisor, in <home>/nodes/");
  nodes->require_subcommand(1);

  auto create_options = std::make_shared<CreateOptions>();
  auto* create = nodes->add_subcommand(
      "create", "Create N consumer nodes (own home, free ports) and start them under the supervisor");
  create->add_option("N", create_options->count, "How many nodes (1..64)")->required()->check(CLI::Range(1, 64));
  create->add_option("--size", create_options->size, "Each node's consumer limit (default \"10 GB\")");
  create->add_option("--tracker", create_options->tracker,
                     "PEERID@host:port of the tracker (default: [tracker] address of <home>/config.toml)");
  create->add_option("--timeout", create_options->timeout_s, "Seconds to wait for the daemons (default 60)");
  create->add_flag("--json", create_options->json, "Print the created nodes as JSON");

  auto ls_json = std::make_shared<bool>(false);
  auto* ls = nodes->add_subcommand("ls", "List the nodes: status, ports, size, used bytes, peer ID");
  ls->add_flag("--json", *ls_json, "Print JSON");

  auto status_id = std::make_shared<std::string>();
  auto status_json = std::make_shared<bool>(false);
  auto* status = nodes->add_subcommand(
      "status", "One node's health: daemon, registration, slots, restarts, audits and nice points");
  status->add_option("ID", *status_id, "Node ID (from `nodes ls`)")->required();
  status->add_flag("--json", *status_json, "Print JSON");

  auto resize_id = std::make_shared<std::string>();
  auto resize_size = std::make_shared<std::string>();
  auto* resize = nodes->add_subcommand(
      "resize", "Change a node's consumer limit; a lower one gives slots up (the tracker re-places them)");
  resize->add_option("ID", *resize_id, "Node ID")->required();
  resize->add_option("SIZE", *resize_size, "New limit, e.g. \"20 GB\"")->required();

  auto rm_options = std::make_shared<RmOptions>();
  auto* rm = nodes->add_subcommand(
      "rm", "Hand a node's slots over to other consumers, then stop it and delete its home");
  rm->add_option("ID", rm_options->id, "Node ID")->required();
  rm->add_option("--timeout", rm_options->timeout_s, "Seconds to wait for the hand-over (default 300)");
  rm->add_flag("--force", rm_options->force, "Remove it even if its slots could not be handed over");

  auto* up = nodes->add_subcommand("up", "Start the supervisor (and so every node) if none runs");
  auto* down = nodes->add_subcommand("down", "Stop the supervisor and every node (the fleet stays; `nodes up` restarts it)");
  auto* supervise = nodes->add_subcommand(
      "supervise", "Run the supervisor in the foreground (`nodes create` and `nodes up` start it in the background)");

  return [=, &home]() -> std::optional<int> {
    if (create->parsed()) return cmd_create(home, *create_options);
    if (ls->parsed()) return cmd_ls(home, *ls_json);
    if (status->parsed()) return cmd_status(home, *status_id, *status_json);
    if (resize->parsed()) return cmd_resize(home, *resize_id, *resize_size);
    if (rm->parsed()) return cmd_rm(home, *rm_options);
    if (up->parsed()) return cmd_up(home);
    if (down->parsed()) return cmd_down(home);
    if (supervise->parsed()) return cmd_supervise(home);
    return std::nullopt;
  };
}

}  // namespace ob::cli
