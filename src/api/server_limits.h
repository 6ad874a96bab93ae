// The limits of the daemon's HTTP server (api/gated_server.h enforces them; docs/api.md
// "Limits" documents them). Apart from gated_server.h so that users need not include httplib.
#pragma once

#include <chrono>
#include <cstddef>

namespace ob::api {

/// How long and how much a connection may take before it is served, and by how many threads.
struct ServerLimits {
  /// The whole request header (request line to the blank line) must arrive within this long of
  /// the connection's accept, or of the previous response on a kept-alive connection.
  std::chrono::milliseconds header_timeout{10'000};
  /// Largest request header, in bytes (request line and all header lines).
  std::size_t max_header_bytes = 64 * 1024;
  /// Most connections waiting for their header at once; one more closes the longest-waiting
  /// one, so that a flood of slow clients cannot lock out a prompt one for long.
  std::size_t max_waiting = 256;
  /// Threads serving requests whose header has arrived (uploads and downloads run concurrently).
  std::size_t workers = 32;
  /// Each read of a request body and each write of a response may wait this long for the socket.
  std::chrono::seconds io_timeout{30};
};

}  // namespace ob::api
