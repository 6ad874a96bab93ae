// An httplib::Server whose connections hold no thread while their request header arrives.
//
// cpp-httplib serves a connection on one pool thread from accept to close: a client that sends
// its header a byte at a time (each read has its own timeout, so a byte a second never times
// out), or keeps an idle keep-alive connection open, holds that thread, and a few such clients
// stop the server. Here every connection first waits in a header gate: one thread, epoll, no
// blocking read. A connection reaches a worker thread only once its whole header has arrived;
// the worker serves that one request with httplib's own request processing (routing, bodies,
// streaming responses), then hands a kept-alive connection back to the gate for the next one.
//
//   accept (httplib's listener) -> gate: header complete within header_timeout?
//       yes -> worker: one request (body reads and response writes: io_timeout each)
//                -> keep-alive: back to the gate       -> close: done
//       no  -> 408 and close (an idle kept-alive connection is closed without a reply)
//       header over max_header_bytes -> 431 and close
//       more than max_waiting connections waiting -> the longest-waiting one is closed
//
// What still holds a worker: a request whose body or response moves slowly; each read or write
// waits at most io_timeout. Documented in docs/api.md "Limits".
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>

#include "api/server_limits.h"
#include "core/error.h"

namespace ob::api {

/// An httplib::Server (register handlers on it as usual) with the header gate above in front
/// of its worker threads. Use: create, register handlers, bind_to_port / bind_to_any_port, then
/// listen_after_bind() on a thread; to end: stop() (httplib's: the listener returns), then
/// close(). Sets httplib's new_task_queue and post-routing handler itself: do not replace them.
class GatedServer : public httplib::Server {
 public:
  /// Starts the gate and the worker threads. Errors (io): no epoll or eventfd (out of file
  /// descriptors).
  static Result<std::unique_ptr<GatedServer>> create(ServerLimits limits = {});
  /// Closes like close().
  ~GatedServer() override;
  GatedServer(const GatedServer&) = delete;
  GatedServer& operator=(const GatedServer&) = delete;

  /// After httplib's stop() and once listen_after_bind() returned: closes every connection
  /// waiting in the gate, lets the requests in progress end (a streaming download ends at its
  /// next chunk, an upload at its end or its io_timeout) and joins the threads. Idempotent.
  void close();

 private:
  class Connection;
  class ConnectionStream;
  class Gate;
  explicit GatedServer(ServerLimits limits);
  /// httplib's listener calls this (through new_task_queue, on the listener's own thread) for
  /// every accepted socket: the socket goes into the gate.
  bool process_and_close_socket(socket_t sock) override;
  /// From the gate: a connection whose header has arrived goes to a worker.
  void dispatch(Connection connection);
  /// On a worker: one request of that connection, then back to the gate or closed.
  void serve(Connection connection);

  const ServerLimits limits_;
  std::unique_ptr<Gate> gate_;
  std::unique_ptr<httplib::ThreadPool> workers_;
  std::atomic<bool> closing_{false};
};

}  // namespace ob::api
