// Process-wide logging setup shared by the daemon and the tracker (spdlog on stderr).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace ob {

/// Makes spdlog's default logger write to stderr as "YYYY-MM-DD HH:MM:SS.mmm level message",
/// at `level_name` ("trace", "debug", "info", "warn", "error" or "off"), flushing every line of
/// level info and above (so a crash loses no such line). `logger_name` names the logger.
/// Errors (invalid_argument): an unknown level name; nothing is changed then.
Result<void> setup_logging(std::string_view logger_name, const std::string& level_name);

}  // namespace ob
