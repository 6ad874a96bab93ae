// The node daemon, `open-bucket daemon`: the long-running process that owns a home's stores and
// serves them. It opens the home, the node identity and the engine, serves the REST API on
// 127.0.0.1 (api/rest_server.h; the peer-to-peer services join it with the network issues),
// and stops cleanly on SIGTERM or SIGINT.
//
//   <home>/daemon.json   {"pid": 1234, "apiPort": 8080, "peerId": "12D3KooW...",
//                         "p2pAddress": "127.0.0.1:4040", "dhtPort": 4222}
//                        written durably once the API listens and removed on a clean exit.
//                        The CLI reads it to find the daemon; a file whose pid is gone (a
//                        daemon that was killed) is ignored and replaced by the next daemon.
//
// One daemon per home: the block store's lock refuses a second one, which then names the
// first ("a daemon is already running for <home> (pid N)").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace ob {

/// The software version, as `--version` and GET /v1/debug/info report it.
inline constexpr std::string_view kVersion = "0.1.0";

/// What daemon.json says about a running daemon.
struct DaemonInfo {
  long pid = 0;                ///< process ID
  std::uint16_t api_port = 0;  ///< REST API port on 127.0.0.1
  std::string peer_id;         ///< the node's peer ID, "12D3KooW..."
  std::string p2p_address;     ///< "host:port" of its block exchange server
  std::uint16_t dht_port = 0;  ///< UDP port of its DHT node
};

/// <home>/daemon.json.
std::filesystem::path daemon_file_path(const std::filesystem::path& home_dir);

/// Reads a daemon.json. Errors (not_found): no such file; (corrupt): not the JSON object above;
/// (io).
Result<DaemonInfo> read_daemon_info(const std::filesystem::path& file);

/// The daemon of this home, when daemon.json names a live process (kill(pid, 0) succeeds);
/// nullopt when there is no file, it is unreadable, or its process is gone.
std::optional<DaemonInfo> running_daemon(const std::filesystem::path& home_dir);

/// How to run the daemon.
struct DaemonOptions {
  std::filesystem::path home;      ///< the node home (resolved, see resolve_home)
  std::string log_level = "info";  ///< trace, debug, info, warn or error
};

/// Runs the daemon in this process until SIGTERM or SIGINT, then stops the server, removes
/// daemon.json and returns. Logs go to stderr. Blocks SIGTERM and SIGINT for the whole process
/// (they are taken with sigtimedwait), so call it from the main thread before starting others.
/// Errors (invalid_argument): a bad log level or config; (not_found): the home is not
/// initialised; (io): the store is held by another process ("a daemon is already running for
/// <home> (pid N)" when daemon.json names it), the port cannot be bound, the listener failed.
Result<void> run_daemon(const DaemonOptions& options);

}  // namespace ob
