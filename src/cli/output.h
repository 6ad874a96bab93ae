// Terminal output helpers for the open-bucket command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json_fwd.hpp>

namespace ob::cli {

/// A string field of a daemon's JSON reply; "" when absent, null or not a string.
std::string string_field(const nlohmann::json& row, const char* key);

/// "1.5 GiB", "512 B": binary units, one decimal.
std::string human_bytes(std::uint64_t bytes);

/// A duration for people, rounded down to whole seconds: "7 s", "2 min 05 s", "1 h 02 min".
std::string human_duration(std::chrono::duration<double> duration);

/// The one rule for every progress line of the command line (docs/cli.md "Progress and
/// output"): drawn only when both stdout and stderr are terminals and `json` (the command's
/// --json) is not set, so that scripts, pipes, files and JSON readers never see one.
bool progress_wanted(bool json);

/// The progress line for `done` of `total` bytes, `elapsed` after the transfer started (pure:
/// what ProgressBar draws, without the carriage return and erase codes).
/// With a total: "LABEL [####      ]  40% 4.0 MiB / 10.0 MiB  2.0 MiB/s  ETA 3 s", the rate
/// being the mean since the start and the ETA what is left at that rate, in whole seconds
/// rounded up ("ETA --" until a byte has moved; "ETA 0 s" only when done). With total 0 (unknown): "LABEL 4.0 MiB  2.0 MiB/s".
std::string format_progress(std::string_view label, std::uint64_t done, std::uint64_t total,
                            std::chrono::duration<double> elapsed);

/// The line of a wait that has no byte count (pure): "LABEL PHASE 6 s", elapsed since the wait
/// started; "LABEL 6 s" with an empty phase.
std::string format_wait(std::string_view label, std::string_view phase, std::chrono::duration<double> elapsed);

/// `line` cut to at most `columns` characters (UTF-8 sequences counted as one, never split), so
/// that a redrawn line never wraps. columns 0: unknown, the line as it is.
std::string fit_to_width(const std::string& line, std::size_t columns);

/// A one-line progress display on stderr for a long transfer or wait, redrawn in place at most
/// 10 times a second, cut to the terminal's width. Draws only when progress_wanted(json) held at construction; otherwise
/// every call does nothing. Not thread-safe: one thread draws.
class ProgressBar {
 public:
  /// `label` starts every line (e.g. "put movie.mkv"); `json` is the command's --json, or
  /// true for any other reason the terminal must show nothing but the result (`data get CID -`).
  ProgressBar(std::string label, bool json);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Whether anything is drawn (progress_wanted at construction).
  bool enabled() const noexcept { return enabled_; }
  /// Replaces the label (e.g. to add "2/3 slots").
  void set_label(std::string label) { label_ = std::move(label); }
  /// done and total in bytes (total 0 when unknown: then only the count and rate are shown).
  void update(std::uint64_t done, std::uint64_t total);
  /// An indeterminate wait: the label, `phase` (e.g. "waiting for receipt 0x12ab…") and the
  /// seconds since the bar was made.
  void wait(std::string_view phase);
  /// Clears the line (also done by the destructor, so an early return leaves no debris).
  void finish();

 private:
  /// Whether a redraw is due (the first one, 100 ms after the last, or `force`).
  bool due(bool force);
  void draw(const std::string& line);

  std::string label_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

/// Runs `work` (a callable returning a value) on its own thread and, until it returns, calls
/// `tick` on this thread every `interval` (to redraw a bar, poll a daemon for progress); then
/// returns work's value. Without `enabled` it just calls `work` here, so output without a
/// terminal is exactly what it was. An exception from `work` is rethrown here, never lost on the
/// other thread.
template <class Work, class Tick>
std::invoke_result_t<Work&> run_with_progress(bool enabled, Work&& work, Tick&& tick,
                                              std::chrono::milliseconds interval = std::chrono::milliseconds(100)) {
  if (!enabled) return work();
  auto result = std::async(std::launch::async, std::forward<Work>(work));
  while (result.wait_for(interval) != std::future_status::ready) tick();
  return result.get();
}

}  // namespace ob::cli
