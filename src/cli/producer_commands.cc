#include "cli/commands.h"

namespace ob::cli {

// Placeholder until the producer commands land (issue 4).
CommandRunner add_producer_commands(CLI::App&, const std::optional<std::string>&) {
  return [] { return std::optional<int>(); };
}

}  // namespace ob::cli
