// Process-wide metrics in the Prometheus text exposition format (version 0.0.4,
// https://prometheus.io/docs/instrumenting/exposition_formats/), served at GET /metrics by the
// daemon and the tracker.
//
// Two kinds, as in Prometheus's client libraries:
//   - counters: monotonically increasing totals (bytes served, audits passed, ...), registered
//     once by name in the process-wide registry and bumped lock-free from any thread;
//   - gauges: values read at scrape time (bytes stored, slots held, consumers online), which the
//     server that renders the page collects from the objects that own the state.
// Rates (transfer throughput) are the scraper's job: rate(ob_exchange_bytes_served_total[1m]).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ob::metrics {

/// A monotonically increasing total. Thread-safe; add() is one relaxed atomic add.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// The counter called `name` (Prometheus naming: `ob_<area>_<what>_total`), created on first
/// use with `help` as its HELP line. The reference stays valid for the life of the process, so
/// call sites keep it in a function-local static. Thread-safe. A name that is not a valid
/// Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) is a programming error: it is still
/// registered, and rendered as given.
Counter& counter(std::string_view name, std::string_view help);

/// One gauge sample for render(): `name{labels} value`, with its HELP line.
struct Gauge {
  std::string name;                          ///< e.g. "ob_consumer_used_bytes"
  std::string help;                          ///< one line
  double value = 0;
  std::map<std::string, std::string> labels; ///< e.g. {{"status", "UPLOADED"}}; values escaped on render
};

/// The exposition page: every registered counter (TYPE counter), then `gauges` (TYPE gauge;
/// samples sharing a name are grouped under one HELP/TYPE header, in the order given).
/// Content-Type: "text/plain; version=0.0.4; charset=utf-8" (kContentType).
std::string render(const std::vector<Gauge>& gauges);

/// The Content-Type of render()'s output.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ob::metrics
