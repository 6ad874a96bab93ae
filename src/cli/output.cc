#include "cli/output.h"

#include <unistd.h>

#include <cstdio>

namespace ob::cli {

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done != total) return;
  last_draw_ = now;
  drawn_ = true;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const auto rate = seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(done) / seconds) : 0;
  if (total > 0) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * static_cast<double>(done) / static_cast<double>(total));
    std::fprintf(stderr, "\r%s [%-*s] %3d%% %s / %s  %s/s\033[K", label_.c_str(), kWidth,
                 std::string(static_cast<std::size_t>(std::min(filled, kWidth)), '#').c_str(),
                 static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)),
                 human_bytes(done).c_str(), human_bytes(total).c_str(), human_bytes(rate).c_str());
  } else {
    std::fprintf(stderr, "\r%s %s  %s/s\033[K", label_.c_str(), human_bytes(done).c_str(),
                 human_bytes(rate).c_str());
  }
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace ob::cli
