#include "core/metrics.h"

#include <cmath>
#include <deque>
#include <mutex>
#include <set>

namespace ob::metrics {
namespace {

struct Registered {
  std::string name;
  std::string help;
  Counter counter;
};

/// The process's counters. A deque keeps references stable as counters are added.
struct Registry {
  std::mutex mutex;
  std::deque<Registered> counters;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

// HELP text escapes backslash and newline; label values also escape the double quote.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + escape(help, false) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

}  // namespace

Counter& counter(std::string_view name, std::string_view help) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (Registered& c : r.counters) {
    if (c.name == name) return c.counter;
  }
  Registered& added = r.counters.emplace_back();
  added.name = name;
  added.help = help;
  return added.counter;
}

std::string render(const std::vector<Gauge>& gauges) {
  std::string out;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (const Registered& c : r.counters) {
      header(out, c.name, c.help, "counter");
      out += c.name + " " + std::to_string(c.counter.value()) + "\n";
    }
  }
  std::set<std::string> headed;
  for (std::size_t i = 0; i < gauges.size(); ++i) {
    const Gauge& g = gauges[i];
    if (headed.contains(g.name)) continue;  // already written with the first sample of its name
    headed.insert(g.name);
    header(out, g.name, g.help, "gauge");
    for (std::size_t j = i; j < gauges.size(); ++j) {
      const Gauge& s = gauges[j];
      if (s.name != g.name) continue;
      out += s.name;
      if (!s.labels.empty()) {
        out += "{";
        bool first = true;
        for (const auto& [key, value] : s.labels) {
          if (!first) out += ",";
          first = false;
          out += key + "=\"" + escape(value, true) + "\"";
        }
        out += "}";
      }
      out += " " + number(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace ob::metrics
