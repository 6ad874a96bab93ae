#include "node/fleet.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "node/daemon.h"
#include "store/file_io.h"

namespace ob::fleet {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

FleetNode* Fleet::find(std::uint32_t id) {
  for (FleetNode& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

const FleetNode* Fleet::find(std::uint32_t id) const { return const_cast<Fleet*>(this)->find(id); }

const NodeState* SupervisorState::find(std::uint32_t id) const {
  for (const NodeState& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

std::filesystem::path fleet_dir(const std::filesystem::path& home) { return home / "nodes"; }

std::string node_dir_name(std::uint32_t id) { return "node-" + std::to_string(id); }

namespace {

constexpr std::size_t kMaxStateFile = 4 * 1024 * 1024;

Result<json> read_json(const std::filesystem::path& path) {
  OB_TRY(Bytes text, fileio::read_file(path, kMaxStateFile));
  json j = json::parse(as_chars(text), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(Errc::corrupt, path.string(), " is not a JSON object");
  return j;
}

Result<void> write_json(const std::filesystem::path& path, const json& j) {
  const std::string text = j.dump(2) + "\n";
  return fileio::write_file_atomic(path, as_bytes(text));
}

/// Reads a non-negative integer field; nullopt when missing or of another type.
template <typename T>
std::optional<T> number(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_unsigned()) return std::nullopt;
  return j[key].get<T>();
}

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

Result<Fleet> read_fleet(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "fleet.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Fleet{};
  OB_TRY(json j, read_json(path));
  Fleet fleet;
  fleet.next_id = number<std::uint32_t>(j, "nextId").value_or(1);
  if (!j.contains("nodes") || !j["nodes"].is_array()) return fail(Errc::corrupt, path.string(), ": no \"nodes\" list");
  for (const json& n : j["nodes"]) {
    FleetNode node;
    const auto id = n.is_object() ? number<std::uint32_t>(n, "id") : std::nullopt;
    const auto size = n.is_object() ? number<std::uint64_t>(n, "sizeBytes") : std::nullopt;
    if (!id || !size || text(n, "home").empty()) {
      return fail(Errc::corrupt, path.string(), ": a node needs \"id\", \"home\" and \"sizeBytes\"");
    }
    node.id = *id;
    node.home = text(n, "home");
    node.size_bytes = *size;
    node.wanted_running = text(n, "wanted") != "stopped";
    fleet.next_id = std::max(fleet.next_id, node.id + 1);
    fleet.nodes.push_back(std::move(node));
  }
  return fleet;
}

Result<void> write_fleet(const std::filesystem::path& dir, const Fleet& fleet) {
  json nodes = json::array();
  for (const FleetNode& node : fleet.nodes) {
    nodes.push_back({{"id", node.id},
                     {"home", node.home.string()},
                     {"sizeBytes", node.size_bytes},
                     {"wanted", node.wanted_running ? "running" : "stopped"}});
  }
  return write_json(dir / "fleet.json", json{{"nextId", fleet.next_id}, {"nodes", nodes}});
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

Result<FileLock> FileLock::acquire(const std::filesystem::path& path, bool wait) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(fileio::errno_error("cannot open lock file", path, errno));
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return fail(Errc::already_exists, path.string(), " is locked by another process");
    return std::unexpected(fileio::errno_error("cannot lock", path, err));
  }
  return FileLock(fd);
}

Result<FileLock> lock_fleet(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::io, "cannot create ", dir.string(), ": ", ec.message());
  return FileLock::acquire(dir / "fleet.lock", /*wait=*/true);
}

std::optional<SupervisorState> running_supervisor(const std::filesystem::path& dir) {
  auto j = read_json(dir / "supervisor.json");
  if (!j) return std::nullopt;
  SupervisorState state;
  state.pid = number<long>(*j, "pid").value_or(0);
  if (state.pid <= 0 || ::kill(static_cast<pid_t>(state.pid), 0) != 0) return std::nullopt;
  if (j->contains("nodes") && (*j)["nodes"].is_array()) {
    for (const json& n : (*j)["nodes"]) {
      if (!n.is_object()) continue;
      NodeState node;
      node.id = number<std::uint32_t>(n, "id").value_or(0);
      node.pid = number<long>(n, "pid").value_or(0);
      node.status = text(n, "status");
      node.restarts = number<std::uint32_t>(n, "restarts").value_or(0);
      node.last_exit = text(n, "lastExit");
      state.nodes.push_back(std::move(node));
    }
  }
  return state;
}

// --- the supervisor ---------------------------------------------------------------------------

namespace {

/// One line on stderr with the local time: the supervisor's log.
template <typename... Parts>
void log_line(Parts&&... parts) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  ((std::cerr << stamp << " supervisor: ") << ... << parts) << std::endl;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

/// A node as the supervisor manages it.
struct Managed {
  FleetNode node;
  bool in_fleet = true;  ///< false once removed from fleet.json (forgotten once stopped)
  pid_t pid = 0;
  std::string status = "stopped";
  std::uint32_t restarts = 0;
  std::string last_exit;
  Clock::time_point started{};     ///< when its daemon was last started
  Clock::time_point next_start{};  ///< a restart waits until then
  std::chrono::milliseconds backoff{0};
  std::optional<Clock::time_point> kill_at;  ///< set while stopping: SIGKILL then
  bool crashed = false;  ///< the last exit was not asked for: the next start is a restart
};

class Supervisor {
 public:
  explicit Supervisor(const SupervisorOptions& options) : o_(options) {}

  Result<void> run() {
    sigset_t signals;
    ::sigemptyset(&signals);
    for (int s : {SIGCHLD, SIGHUP, SIGTERM, SIGINT}) ::sigaddset(&signals, s);
    if (::sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) return fail(Errc::io, "cannot block signals");
    auto lock = FileLock::acquire(o_.dir / "supervisor.lock", /*wait=*/false);
    if (!lock) {
      if (lock.error().code == Errc::already_exists) {
        return fail(Errc::already_exists, "a supervisor already runs for ", o_.dir.string());
      }
      return std::unexpected(lock.error());
    }
    log_line("started (pid ", ::getpid(), ") for ", o_.dir.string());
    OB_TRY_VOID(publish());
    bool stopping = false;
    for (;;) {
      timespec timeout{};
      const auto poll_ms = o_.poll.count();
      // Sleep less while something waits for a deadline (a restart, a SIGKILL).
      const long wait_ms = pending_deadline() ? std::min<long>(poll_ms, 100) : poll_ms;
      timeout.tv_sec = wait_ms / 1000;
      timeout.tv_nsec = (wait_ms % 1000) * 1'000'000;
      const int sig = ::sigtimedwait(&signals, nullptr, &timeout);
      if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
        log_line("stopping every node (signal ", sig, ")");
        stopping = true;
        for (auto& [id, m] : nodes_) stop(m);
      }
      if (sig == SIGHUP) log_line("SIGHUP: re-reading fleet.json");
      reap(stopping);
      if (stopping) {
        escalate();
        if (running_count() == 0) break;
      } else {
        reload();
        start_due();
        escalate();
        update_running();
      }
      if (changed_) {
        // Not fatal: the nodes matter more than the report; it is written again next time.
        if (auto published = publish(); !published) log_line("cannot write supervisor.json: ", published.error().message);
      }
    }
    std::error_code ec;
    std::filesystem::remove(o_.dir / "supervisor.json", ec);
    log_line("stopped");
    return {};
  }

 private:
  /// Something to watch closely: a restart or SIGKILL due, a daemon coming up.
  bool pending_deadline() const {
    for (const auto& [id, m] : nodes_) {
      if (m.kill_at || m.status == "starting" || (m.pid == 0 && m.in_fleet && m.node.wanted_running)) return true;
    }
    return false;
  }

  std::size_t running_count() const {
    std::size_t n = 0;
    for (const auto& [id, m] : nodes_) n += m.pid > 0;
    return n;
  }

  void set_status(Managed& m, std::string status) {
    if (m.status != status) {
      m.status = std::move(status);
      changed_ = true;
    }
  }

  /// Asks a node's daemon to stop; SIGKILL follows after stop_timeout.
  void stop(Managed& m) {
    if (m.pid <= 0 || m.kill_at) return;
    log_line("node ", m.node.id, ": stopping (SIGTERM to pid ", m.pid, ")");
    ::kill(m.pid, SIGTERM);
    m.kill_at = Clock::now() + o_.stop_timeout;
    set_status(m, "stopping");
  }

  void escalate() {
    for (auto& [id, m] : nodes_) {
      if (m.pid > 0 && m.kill_at && Clock::now() >= *m.kill_at) {
        log_line("node ", id, ": still running ", o_.stop_timeout.count(), " ms after SIGTERM; SIGKILL to pid ", m.pid);
        ::kill(m.pid, SIGKILL);
        m.kill_at = Clock::now() + o_.stop_timeout;  // and again, should that not be enough
      }
    }
  }

  /// Collects every exited child; schedules a restart for those that were not asked to stop.
  void reap(bool stopping) {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
        Managed& m = it->second;
        if (m.pid != pid) continue;
        m.pid = 0;
        m.last_exit = describe_exit(status);
        changed_ = true;
        if (m.kill_at || stopping || !m.in_fleet || !m.node.wanted_running) {
          log_line("node ", m.node.id, ": stopped (", m.last_exit, ")");
          m.kill_at.reset();
          set_status(m, "stopped");
          if (!m.in_fleet) nodes_.erase(it);
          break;
        }
        const auto ran = Clock::now() - m.started;
        if (ran >= o_.reset_backoff_after || m.backoff.count() == 0) {
          m.backoff = o_.first_backoff;
        } else {
          m.backoff = std::min(m.backoff * 2, o_.max_backoff);
        }
        m.next_start = Clock::now() + m.backoff;
        m.crashed = true;
        set_status(m, "crashed-restarting");
        log_line("node ", m.node.id, ": daemon pid ", pid, " exited (", m.last_exit, ") after ",
                 std::chrono::duration_cast<std::chrono::milliseconds>(ran).count(), " ms; restarting in ",
                 m.backoff.count(), " ms");
        break;
      }
    }
  }

  /// Re-reads fleet.json: new nodes are added, removed or stopped ones are asked to stop.
  void reload() {
    auto fleet = read_fleet(o_.dir);
    if (!fleet) {
      if (fleet.error().message != last_error_) log_line("cannot read fleet.json, keeping the last one: ", fleet.error().message);
      last_error_ = fleet.error().message;
      return;
    }
    last_error_.clear();
    for (auto& [id, m] : nodes_) m.in_fleet = false;
    for (const FleetNode& node : fleet->nodes) {
      auto [it, added] = nodes_.try_emplace(node.id);
      Managed& m = it->second;
      if (added) {
        changed_ = true;
        log_line("node ", node.id, ": added (", node.home.string(), ")");
      }
      m.node = node;
      m.in_fleet = true;
    }
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      Managed& m = it->second;
      if (!m.in_fleet || !m.node.wanted_running) {
        if (m.pid > 0) {
          stop(m);
        } else if (!m.in_fleet) {
          log_line("node ", it->first, ": removed");
          it = nodes_.erase(it);
          changed_ = true;
          continue;
        } else {
          set_status(m, "stopped");
        }
      }
      ++it;
    }
  }

  void start_due() {
    const auto now = Clock::now();
    for (auto& [id, m] : nodes_) {
      if (m.pid > 0 || !m.in_fleet || !m.node.wanted_running || now < m.next_start) continue;
      auto pid = o_.spawn(m.node, m.node.home / "daemon.log");
      if (m.crashed) ++m.restarts;
      m.crashed = true;  // a failed spawn counts as a crash too: it is retried with backoff
      m.started = now;
      changed_ = true;
      if (!pid) {
        m.backoff = std::min(std::max(m.backoff * 2, o_.first_backoff), o_.max_backoff);
        m.next_start = now + m.backoff;
        set_status(m, "crashed-restarting");
        log_line("node ", id, ": cannot start: ", pid.error().message, "; retrying in ", m.backoff.count(), " ms");
        continue;
      }
      m.pid = *pid;
      m.crashed = false;
      set_status(m, "starting");
      log_line("node ", id, ": daemon started, pid ", m.pid, m.restarts ? " (restart #" + std::to_string(m.restarts) + ")" : "");
    }
  }

  /// "starting" becomes "running" once the daemon's daemon.json names it (it listens).
  void update_running() {
    for (auto& [id, m] : nodes_) {
      if (m.pid <= 0 || m.status != "starting") continue;
      auto info = read_daemon_info(daemon_file_path(m.node.home));
      if (info && info->pid == m.pid) {
        set_status(m, "running");
        log_line("node ", id, ": running (API port ", info->api_port, ", peer ", info->peer_id, ")");
      }
    }
  }

  Result<void> publish() {
    json nodes = json::array();
    for (const auto& [id, m] : nodes_) {
      nodes.push_back({{"id", id},
                       {"pid", m.pid > 0 ? m.pid : 0},
                       {"status", m.status},
                       {"restarts", m.restarts},
                       {"lastExit", m.last_exit}});
    }
    changed_ = false;
    return write_json(o_.dir / "supervisor.json", json{{"pid", ::getpid()}, {"nodes", nodes}});
  }

  const SupervisorOptions& o_;
  std::map<std::uint32_t, Managed> nodes_;
  bool changed_ = true;
  std::string last_error_;
};

}  // namespace

Result<void> run_supervisor(const SupervisorOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return fail(Errc::io, "cannot create ", options.dir.string(), ": ", ec.message());
  Supervisor supervisor(options);
  return supervisor.run();
}

}  // namespace ob::fleet
