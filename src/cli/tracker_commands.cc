#include "cli/commands.h"

namespace ob::cli {

// Placeholder until the tracker commands land (issue 4).
CommandRunner add_tracker_commands(CLI::App&, const std::optional<std::string>&) {
  return [] { return std::optional<int>(); };
}

}  // namespace ob::cli
