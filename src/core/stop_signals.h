// SIGTERM and SIGINT as a request to stop, for the long-running commands (the daemon, the
// tracker): blocked in every thread, so that neither kills the process mid-write, and waited for
// by the main thread, which then stops things in order.
#pragma once

#include <signal.h>

#include <chrono>

#include "core/error.h"

namespace ob {

/// SIGTERM and SIGINT, blocked and waited for.
class StopSignals {
 public:
  /// Blocks SIGTERM and SIGINT in the calling thread. Call before any thread starts (RocksDB,
  /// gRPC and the HTTP server start some): threads inherit the mask, so the signals wait for
  /// wait() instead of ending the process wherever it is. Errors (io): the mask cannot be set.
  static Result<StopSignals> block();

  /// Waits up to `timeout` for SIGTERM or SIGINT. Returns true when one came (and logs
  /// "SIGTERM received, stopping"), false when the time ran out first.
  bool wait(std::chrono::milliseconds timeout) const;

 private:
  StopSignals() = default;
  sigset_t signals_{};
};

}  // namespace ob
