#include "core/units.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace ob {

Result<std::uint64_t> parse_size(std::string_view text) {
  const auto bad = [&] {
    return fail(Errc::invalid_argument, "invalid size '", text, "': expected a number and a unit, such as \"10 GB\"");
  };
  std::size_t pos = 0;
  while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
  if (pos == 0) return bad();
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + pos, number);
  if (ec != std::errc() || end != text.data() + pos || !std::isfinite(number) || number < 0) return bad();
  while (pos < text.size() && text[pos] == ' ') ++pos;
  std::string unit;
  for (const char c : text.substr(pos)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Unit {
    std::string_view name;
    double factor;
  };
  static constexpr std::array<Unit, 9> kUnits{{{"b", 1.0},
                                               {"kb", 1e3},
                                               {"mb", 1e6},
                                               {"gb", 1e9},
                                               {"tb", 1e12},
                                               {"kib", 1024.0},
                                               {"mib", 1048576.0},
                                               {"gib", 1073741824.0},
                                               {"tib", 1099511627776.0}}};
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    const double bytes = std::floor(number * u.factor);
    if (bytes >= 18446744073709551615.0) return fail(Errc::invalid_argument, "size '", text, "' is too large");
    return static_cast<std::uint64_t>(bytes);
  }
  return bad();
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<const char*, 6> kNames{"B", "KB", "MB", "GB", "TB", "PB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1000.0 && unit + 1 < kNames.size()) {
    value /= 1000.0;
    ++unit;
  }
  char out[32];
  const double rounded = std::round(value * 10.0) / 10.0;
  if (unit == 0 || rounded == std::floor(rounded)) {
    std::snprintf(out, sizeof out, "%.0f %s", rounded, kNames[unit]);
  } else {
    std::snprintf(out, sizeof out, "%.1f %s", rounded, kNames[unit]);
  }
  return out;
}

}  // namespace ob
