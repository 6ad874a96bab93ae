// A fleet of consumer nodes on this machine (seed 002: provisioning storage nodes, monitoring
// them and starting them again when they go down), and the supervisor that keeps them running.
//
//   <home>/nodes/fleet.json        what should run: {"nextId", "nodes": [{"id", "home",
//                                  "sizeBytes", "wanted": "running"|"stopped"}]}; written
//                                  atomically (write, fsync, rename) under fleet.lock
//   <home>/nodes/fleet.lock        flock(2) held while a command changes fleet.json
//   <home>/nodes/supervisor.json   what runs, published by the supervisor on every change:
//                                  {"pid", "nodes": [{"id", "pid", "status", "restarts",
//                                  "lastExit"}]}; removed when the supervisor exits
//   <home>/nodes/supervisor.lock   flock(2) held by the one supervisor for its whole life
//   <home>/nodes/supervisor.log    the supervisor's log (starts, exits, restarts)
//   <home>/nodes/node-<id>/        a node home (node/home.h) whose daemon runs the consumer;
//                                  its daemon's stderr goes to node-<id>/daemon.log
// The supervisor (run_supervisor) starts a daemon for every node wanted running, restarts one
// that exits with exponential backoff, re-reads fleet.json every second and on SIGHUP, and on
// SIGTERM or SIGINT stops every daemon (SIGTERM, then SIGKILL after a deadline).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace ob::fleet {

/// One node of the fleet as fleet.json lists it.
struct FleetNode {
  std::uint32_t id = 0;          ///< 1, 2, ...; never reused within a fleet
  std::filesystem::path home;    ///< its node home, <home>/nodes/node-<id>
  std::uint64_t size_bytes = 0;  ///< its consumer limit, bytes
  bool wanted_running = true;    ///< false: the supervisor keeps it stopped
};

/// The contents of fleet.json.
struct Fleet {
  std::uint32_t next_id = 1;  ///< the ID the next created node gets
  std::vector<FleetNode> nodes;

  /// The node with this ID, or nullptr.
  FleetNode* find(std::uint32_t id);
  const FleetNode* find(std::uint32_t id) const;
};

/// <home>/nodes: the fleet's directory under a global home.
std::filesystem::path fleet_dir(const std::filesystem::path& home);
/// "node-<id>": a node's folder name inside the fleet's directory.
std::string node_dir_name(std::uint32_t id);

/// Reads <dir>/fleet.json. A missing file is an empty fleet, not an error. Errors (corrupt):
/// not the JSON described above; (io).
Result<Fleet> read_fleet(const std::filesystem::path& dir);
/// Writes <dir>/fleet.json atomically and durably (write, fsync, rename, fsync the directory).
/// Errors (io).
Result<void> write_fleet(const std::filesystem::path& dir, const Fleet& fleet);

/// An exclusive flock(2) on a file, released on destruction. Movable, not copyable.
class FileLock {
 public:
  /// Takes the lock on `path` (created if missing), waiting for it when `wait`, else failing at
  /// once. Errors (already_exists): held by another process and not `wait`; (io).
  static Result<FileLock> acquire(const std::filesystem::path& path, bool wait);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// Takes <dir>/fleet.lock, waiting for it: hold it across a read_fleet .. write_fleet.
Result<FileLock> lock_fleet(const std::filesystem::path& dir);

/// What the supervisor says about one node.
struct NodeState {
  std::uint32_t id = 0;
  long pid = 0;            ///< its daemon's pid; 0 when none runs
  std::string status;      ///< "starting", "running", "crashed-restarting", "stopping" or "stopped"
  std::uint32_t restarts = 0;  ///< times the supervisor started it again after it exited by itself
  std::string last_exit;   ///< how its daemon last ended ("exit 1", "signal 9"); empty if never
};

/// The contents of supervisor.json.
struct SupervisorState {
  long pid = 0;  ///< the supervisor's pid
  std::vector<NodeState> nodes;

  /// The node with this ID, or nullptr.
  const NodeState* find(std::uint32_t id) const;
};

/// The supervisor of the fleet in `dir` when supervisor.json names a live process; nullopt when
/// there is no file, it is unreadable, or its process is gone.
std::optional<SupervisorState> running_supervisor(const std::filesystem::path& dir);

/// How to run the supervisor.
struct SupervisorOptions {
  std::filesystem::path dir;  ///< the fleet's directory (fleet_dir)
  /// Starts the daemon of a node (its stdout and stderr to `log`) and returns its pid; it must
  /// be a child of this process (the supervisor waits for it). Errors: the spawner's.
  std::function<Result<pid_t>(const FleetNode& node, const std::filesystem::path& log)> spawn;
  std::chrono::milliseconds first_backoff{500};  ///< wait before the first restart
  std::chrono::milliseconds max_backoff{5000};   ///< the backoff doubles up to this
  /// A daemon that ran this long before exiting is restarted after first_backoff again.
  std::chrono::milliseconds reset_backoff_after{30000};
  std::chrono::milliseconds stop_timeout{10000};  ///< SIGTERM, then SIGKILL after this
  std::chrono::milliseconds poll{1000};           ///< fleet.json is re-read at least this often
};

/// Runs the supervisor in this process until SIGTERM or SIGINT, then stops every daemon it
/// started, removes supervisor.json and returns. Logs to stderr, one line per event. Blocks
/// SIGCHLD, SIGHUP, SIGTERM and SIGINT (taken with sigtimedwait): call it from the main thread
/// before starting any other. Errors (already_exists): another supervisor runs for `dir`;
/// (io): supervisor.json cannot be written. A fleet.json that cannot be read is logged and the
/// last good one kept.
Result<void> run_supervisor(const SupervisorOptions& options);

}  // namespace ob::fleet
