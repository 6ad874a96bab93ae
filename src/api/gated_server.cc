#include "api/gated_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/http.h"

namespace ob::api {
namespace {

using Clock = std::chrono::steady_clock;

// httplib reads a header a byte at a time: a worker refills this much from the socket at once.
constexpr std::size_t kRefillBytes = 4096;

// Set by the post-routing hook when the response says "Connection: close" (a refused request
// whose body was not read, a client that asked for it): the connection must not be reused.
thread_local bool t_close_after_response = false;

/// Runs httplib's per-connection task at once, on the listener's thread: the task only puts the
/// socket into the gate, so the listener never waits for a client.
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> task) override { task(); }
  void shutdown() override {}
};

/// An HTTP reply that ends the connection, for the gate's refusals.
std::string closing_reply(int status, std::string_view message) {
  const std::string body = error_body(message);
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(status_text(status)) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

/// Whether `buffer` holds a whole request header: the empty line that ends it (httplib skips
/// header lines not ending in CRLF, so "\n\r\n" is its end). Searches from `from` on, less the
/// two bytes that may have begun the terminator in an earlier piece.
bool header_complete(std::string_view buffer, std::size_t from) {
  return buffer.find("\n\r\n", from >= 2 ? from - 2 : 0) != std::string_view::npos;
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  auto* generic = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, generic, &length) : ::getsockname(fd, generic, &length)) != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

}  // namespace

/// An accepted socket and the bytes read from it that httplib has not consumed yet (the header,
/// read by the gate; a pipelined next request, read ahead by a worker). Closes the socket.
class GatedServer::Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}
  ~Connection() {
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_RDWR);
      ::close(fd_);
    }
  }
  Connection(Connection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)), offset_(std::exchange(other.offset_, 0)) {}
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const noexcept { return fd_; }
  /// The unconsumed bytes, moved to the front of the buffer.
  std::string& pending() {
    buffer_.erase(0, offset_);
    offset_ = 0;
    return buffer_;
  }
  bool has_pending() const noexcept { return offset_ < buffer_.size(); }
  /// Moves up to `size` unconsumed bytes to `out`; returns how many.
  std::size_t take(char* out, std::size_t size) {
    const std::size_t n = std::min(size, buffer_.size() - offset_);
    std::memcpy(out, buffer_.data() + offset_, n);
    offset_ += n;
    if (offset_ == buffer_.size()) {
      buffer_.clear();
      offset_ = 0;
    }
    return n;
  }

 private:
  int fd_;
  std::string buffer_;
  std::size_t offset_ = 0;
};

/// httplib's view of a connection on a worker: the bytes the gate buffered first, then the
/// socket; each wait for the socket bounded by the io timeout.
class GatedServer::ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(Connection& connection, std::chrono::milliseconds timeout)
      : connection_(connection), timeout_ms_(static_cast<int>(std::min<std::int64_t>(timeout.count(), 1 << 30))) {}

  bool is_readable() const override { return connection_.has_pending() || wait(POLLIN); }
  bool is_writable() const override { return wait(POLLOUT); }

  ssize_t read(char* ptr, std::size_t size) override {
    if (connection_.has_pending()) return static_cast<ssize_t>(connection_.take(ptr, size));
    if (!wait(POLLIN)) return -1;
    if (size >= kRefillBytes) return receive(ptr, size);
    // A small read (httplib reads header lines a byte at a time): read ahead into the buffer,
    // which keeps whatever follows this request (a pipelined one) for the next.
    std::string& buffer = connection_.pending();
    buffer.resize(kRefillBytes);
    const ssize_t n = receive(buffer.data(), buffer.size());
    buffer.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    if (n <= 0) return n;
    return static_cast<ssize_t>(connection_.take(ptr, size));
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    if (!wait(POLLOUT)) return -1;
    ssize_t n;
    do {
      n = ::send(connection_.fd(), ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(connection_.fd(), true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(connection_.fd(), false, ip, port); }
  socket_t socket() const override { return connection_.fd(); }

 private:
  /// Whether the socket became ready for `events` (or failed: the next call says how) in time.
  bool wait(short events) const {
    pollfd p{connection_.fd(), events, 0};
    for (;;) {
      const int n = ::poll(&p, 1, timeout_ms_);
      if (n < 0 && errno == EINTR) continue;
      return n > 0;
    }
  }
  ssize_t receive(char* out, std::size_t size) const {
    ssize_t n;
    do {
      n = ::recv(connection_.fd(), out, size, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  Connection& connection_;
  const int timeout_ms_;
};

/// Connections waiting for their request header: one thread, one epoll set, non-blocking reads
/// into each connection's buffer. A connection leaves when its header is complete (to `ready`,
/// on the gate's thread), or is closed: at its deadline (408), when its header grows too large
/// (431), when it ends or fails, or when too many wait (the longest-waiting goes, 503).
class GatedServer::Gate {
 public:
  using Ready = std::function<void(Connection)>;

  /// Errors (io): no epoll instance or eventfd.
  static Result<std::unique_ptr<Gate>> start(const ServerLimits& limits, Ready ready) {
    const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) return fail(Errc::io, "cannot create an epoll instance: ", std::strerror(errno));
    const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) {
      ::close(epoll_fd);
      return fail(Errc::io, "cannot create an eventfd: ", std::strerror(errno));
    }
    std::unique_ptr<Gate> gate(new Gate(limits, std::move(ready), epoll_fd, wake_fd));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_fd;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &event) != 0) {
      return fail(Errc::io, "cannot watch the gate's eventfd: ", std::strerror(errno));
    }
    gate->thread_ = std::thread([g = gate.get()] { g->run(); });
    return gate;
  }

  ~Gate() {
    stop();
    ::close(epoll_fd_);
    ::close(wake_fd_);
  }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  /// Takes a connection in (from any thread); once stopped, closes it instead.
  void admit(Connection connection) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      inbox_.push_back(std::move(connection));
    }
    wake();
  }

  /// Closes every waiting connection and joins the thread. Idempotent; not from `ready`.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Waiting {
    Connection connection;
    Clock::time_point deadline;
  };

  Gate(const ServerLimits& limits, Ready ready, int epoll_fd, int wake_fd)
      : limits_(limits),
        ready_(std::move(ready)),
        epoll_fd_(epoll_fd),
        wake_fd_(wake_fd),
        timeout_text_(fmt::format("{:g} s", static_cast<double>(limits.header_timeout.count()) / 1000.0)) {}

  void wake() {
    const std::uint64_t one = 1;
    // Fails only when the counter would overflow, and then the thread is awake anyway.
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  void run() {
    std::vector<epoll_event> events(64);
    for (;;) {
      int timeout_ms = -1;
      if (!deadlines_.empty()) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadlines_.begin()->first - Clock::now());
        timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1 << 30));
      }
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
      if (n < 0 && errno != EINTR) {
        // Not expected (the descriptors are ours); closing everything beats hanging clients.
        spdlog::error("REST API: epoll_wait failed: {}; closing the connections waiting for a header",
                      std::strerror(errno));
        std::lock_guard lock(mutex_);
        stopped_ = true;
        inbox_.clear();
        waiting_.clear();
        deadlines_.clear();
        return;
      }
      try {
        for (int i = 0; i < n; ++i) {
          if (events[static_cast<std::size_t>(i)].data.fd != wake_fd_) {
            receive(events[static_cast<std::size_t>(i)].data.fd);
            continue;
          }
          std::uint64_t count = 0;
          [[maybe_unused]] const ssize_t drained = ::read(wake_fd_, &count, sizeof count);
          std::vector<Connection> arrived;
          bool stopped = false;
          {
            std::lock_guard lock(mutex_);
            arrived.swap(inbox_);
            stopped = stopped_;
          }
          if (stopped) {
            waiting_.clear();  // closes them
            deadlines_.clear();
            return;
          }
          for (Connection& connection : arrived) enter(std::move(connection));
        }
        expire(Clock::now());
      } catch (const std::exception& e) {  // allocation failure: the gate keeps going
        spdlog::error("REST API: header gate: {}", e.what());
      }
    }
  }

  void enter(Connection connection) {
    if (header_complete(connection.pending(), 0)) return ready_(std::move(connection));  // pipelined
    while (waiting_.size() >= std::max<std::size_t>(1, limits_.max_waiting) && !deadlines_.empty()) {
      drop(deadlines_.begin()->second, 503, "too many connections are waiting to send a request header");
    }
    const int fd = connection.fd();
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      spdlog::warn("REST API: cannot watch a connection: {}", std::strerror(errno));
      return;  // closes it
    }
    const Clock::time_point deadline = Clock::now() + limits_.header_timeout;
    deadlines_.emplace(deadline, fd);
    waiting_.emplace(fd, Waiting{std::move(connection), deadline});
  }

  /// Reads what `fd` has sent; passes the connection on once its header is complete.
  void receive(int fd) {
    const auto it = waiting_.find(fd);
    if (it == waiting_.end()) return;  // closed earlier in this round
    std::string& buffer = it->second.connection.pending();
    for (;;) {
      if (buffer.size() >= limits_.max_header_bytes) {
        return drop(fd, 431, "the request header is larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
      }
      const std::size_t before = buffer.size();
      const std::size_t want = std::min(kRefillBytes, limits_.max_header_bytes - before);
      buffer.resize(before + want);
      const ssize_t n = ::recv(fd, buffer.data() + before, want, MSG_DONTWAIT);
      buffer.resize(before + (n > 0 ? static_cast<std::size_t>(n) : 0));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) return drop(fd, 0, {});  // ended or failed before its header did
      if (header_complete(buffer, before)) return ready_(release(fd));
    }
  }

  void expire(Clock::time_point now) {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      drop(deadlines_.begin()->second, 408, "the request header did not arrive within " + timeout_text_);
    }
  }

  /// Takes `fd` (which waits here) out of the gate.
  Connection release(int fd) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    const auto it = waiting_.find(fd);
    Connection connection = std::move(it->second.connection);
    deadlines_.erase({it->second.deadline, fd});
    waiting_.erase(it);
    return connection;
  }

  /// Closes `fd`, first answering `status` with `message` if it had begun a request (a kept-alive
  /// connection that sent nothing is closed silently: a reply would answer a request it may be
  /// sending just now).
  void drop(int fd, int status, const std::string& message) {
    Connection connection = release(fd);
    if (status == 0) return;
    if (!connection.has_pending()) {
      // Bytes may have arrived that no EPOLLIN of this gate has read yet (a connection dropped
      // in the round it entered): they too make it a begun request.
      char peek = 0;
      if (::recv(fd, &peek, 1, MSG_DONTWAIT | MSG_PEEK) <= 0) return;
    }
    const std::string reply = closing_reply(status, message);
    [[maybe_unused]] const ssize_t sent = ::send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    // Unread bytes at close would make the kernel reset the connection and drop the reply.
    ::shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
  }

  const ServerLimits limits_;
  const Ready ready_;
  const int epoll_fd_;
  const int wake_fd_;
  const std::string timeout_text_;
  std::thread thread_;

  std::mutex mutex_;  // guards inbox_ and stopped_
  std::vector<Connection> inbox_;
  bool stopped_ = false;

  // The gate thread's own.
  std::unordered_map<int, Waiting> waiting_;
  std::set<std::pair<Clock::time_point, int>> deadlines_;  // soonest (= longest waiting) first
};

// --- the server -------------------------------------------------------------------------------

GatedServer::GatedServer(ServerLimits limits) : limits_(limits) {
  new_task_queue = [] { return new InlineQueue; };
  set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.get_header_value("Connection") == "close") t_close_after_response = true;
    // httplib advertises its own keep-alive policy ("timeout=5, max=5"), not the gate's.
    res.headers.erase("Keep-Alive");
  });
  // Accepted sockets get these as SO_RCVTIMEO / SO_SNDTIMEO: a bound on any blocking call.
  set_read_timeout(limits.io_timeout);
  set_write_timeout(limits.io_timeout);
}

GatedServer::~GatedServer() { close(); }

Result<std::unique_ptr<GatedServer>> GatedServer::create(ServerLimits limits) {
  std::unique_ptr<GatedServer> server(new GatedServer(limits));
  server->workers_ = std::make_unique<httplib::ThreadPool>(std::max<std::size_t>(1, limits.workers));
  OB_TRY(server->gate_, Gate::start(limits, [s = server.get()](Connection connection) { s->dispatch(std::move(connection)); }));
  return server;
}

void GatedServer::close() {
  closing_ = true;
  if (gate_) gate_->stop();
  if (workers_) {
    workers_->shutdown();  // runs what is queued (each closes at once) and joins
    workers_.reset();
  }
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  gate_->admit(Connection(sock));
  return true;
}

void GatedServer::dispatch(Connection connection) {
  // httplib's pool takes copyable tasks: the connection travels in a shared box.
  auto box = std::make_shared<Connection>(std::move(connection));
  workers_->enqueue([this, box] { serve(std::move(*box)); });
}

void GatedServer::serve(Connection connection) {
  if (closing_) return;
  bool keep_alive = false;
  try {
    t_close_after_response = false;
    ConnectionStream stream(connection, limits_.io_timeout);
    bool closed = false;
    keep_alive = process_request(stream, /*close_connection=*/false, closed, nullptr) && !closed &&
                 !t_close_after_response;
  } catch (const std::exception& e) {  // httplib catches the handlers'; this is its own failing
    spdlog::error("REST API: serving a request: {}", e.what());
  } catch (...) {
    spdlog::error("REST API: serving a request: unknown exception");
  }
  if (keep_alive && !closing_) gate_->admit(std::move(connection));
}

}  // namespace ob::api
