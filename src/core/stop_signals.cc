#include "core/stop_signals.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <ctime>

namespace ob {

Result<StopSignals> StopSignals::block() {
  StopSignals stop;
  sigemptyset(&stop.signals_);
  sigaddset(&stop.signals_, SIGTERM);
  sigaddset(&stop.signals_, SIGINT);
  if (::pthread_sigmask(SIG_BLOCK, &stop.signals_, nullptr) != 0) {
    return fail(Errc::io, "cannot block SIGTERM and SIGINT");
  }
  return stop;
}

bool StopSignals::wait(std::chrono::milliseconds timeout) const {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec tick{static_cast<time_t>(seconds.count()),
                      static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count())};
  siginfo_t info{};
  const int sig = ::sigtimedwait(&signals_, &info, &tick);
  if (sig != SIGTERM && sig != SIGINT) return false;  // timed out, or EINTR: the caller waits again
  spdlog::info("{} received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  return true;
}

}  // namespace ob
