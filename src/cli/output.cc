#include "cli/output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace ob::cli {

std::string string_field(const nlohmann::json& row, const char* key) {
  const auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
}

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

std::string human_duration(std::chrono::duration<double> duration) {
  const double seconds = duration.count();
  // Negative, NaN and absurd values (a rate near zero) all read as "long": no overflow below.
  if (!(seconds >= 0)) return "0 s";
  if (seconds >= 100.0 * 3600) return ">99 h";
  const auto total = static_cast<std::uint64_t>(seconds);
  char buf[32];
  if (total < 60) {
    std::snprintf(buf, sizeof buf, "%u s", static_cast<unsigned>(total));
  } else if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%u min %02u s", static_cast<unsigned>(total / 60), static_cast<unsigned>(total % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%u h %02u min", static_cast<unsigned>(total / 3600),
                  static_cast<unsigned>(total % 3600 / 60));
  }
  return buf;
}

bool progress_wanted(bool json) {
  return !json && ::isatty(STDOUT_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1;
}

std::string format_progress(std::string_view label, std::uint64_t done, std::uint64_t total,
                            std::chrono::duration<double> elapsed) {
  const double seconds = elapsed.count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  const std::string rate_text = human_bytes(static_cast<std::uint64_t>(rate)) + "/s";
  std::string line(label);
  if (total == 0) return line + " " + human_bytes(done) + "  " + rate_text;

  constexpr int kWidth = 30;
  const double fraction = std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
  const auto filled = static_cast<std::size_t>(kWidth * fraction);
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, ' ');
  char percent[8];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(100.0 * fraction));
  const std::string eta = done >= total ? human_duration(std::chrono::seconds(0))
                          : rate > 0    ? human_duration(std::chrono::duration<double>(
                                              std::ceil(static_cast<double>(total - done) / rate)))
                                        : std::string("--");
  return line + " [" + bar + "] " + percent + " " + human_bytes(done) + " / " + human_bytes(total) + "  " +
         rate_text + "  ETA " + eta;
}

std::string format_wait(std::string_view label, std::string_view phase, std::chrono::duration<double> elapsed) {
  std::string line(label);
  if (!phase.empty()) (line += " ") += phase;
  return line + " " + human_duration(elapsed);
}

std::string fit_to_width(const std::string& line, std::size_t columns) {
  if (columns == 0) return line;
  std::size_t characters = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    // A byte 10xxxxxx continues a UTF-8 sequence; any other starts a character.
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80 && ++characters > columns) return line.substr(0, i);
  }
  return line;
}

ProgressBar::ProgressBar(std::string label, bool json)
    : label_(std::move(label)),
      enabled_(progress_wanted(json)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

bool ProgressBar::due(bool force) {
  if (!enabled_) return false;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && !force && now - last_draw_ < std::chrono::milliseconds(100)) return false;
  last_draw_ = now;
  return true;
}

void ProgressBar::draw(const std::string& line) {
  drawn_ = true;
  struct winsize size {};
  // One column spare: a line that fills the last column makes some terminals wrap.
  const std::size_t columns = ::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 ? size.ws_col - 1u : 0;
  std::fprintf(stderr, "\r%s\033[K", fit_to_width(line, columns).c_str());
  std::fflush(stderr);
}

void ProgressBar::update(std::uint64_t done, std::uint64_t total) {
  if (!due(total != 0 && done >= total)) return;
  draw(format_progress(label_, done, total, std::chrono::steady_clock::now() - start_));
}

void ProgressBar::wait(std::string_view phase) {
  if (!due(false)) return;
  draw(format_wait(label_, phase, std::chrono::steady_clock::now() - start_));
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace ob::cli
