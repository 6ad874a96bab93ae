// Terminal output helpers for the open-bucket command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ob::cli {

/// "1.5 GiB", "512 B": binary units, one decimal.
std::string human_bytes(std::uint64_t bytes);

/// A one-line progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a
/// second. Call update() as bytes move and finish() at the end.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  /// done and total in bytes (total 0 when unknown: then only the count and rate are shown).
  void update(std::uint64_t done, std::uint64_t total);
  /// Clears the line.
  void finish();

 private:
  std::string label_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace ob::cli
