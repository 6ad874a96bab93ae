#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace ob {

Result<void> setup_logging(std::string_view logger_name, const std::string& level_name) {
  const spdlog::level::level_enum level = spdlog::level::from_str(level_name);
  // from_str answers "off" for anything it does not know.
  if (level == spdlog::level::off && level_name != "off") {
    return fail(Errc::invalid_argument, "unknown log level '", level_name, "' (trace, debug, info, warn, error)");
  }
  auto logger = std::make_shared<spdlog::logger>(std::string(logger_name),
                                                 std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return {};
}

}  // namespace ob
