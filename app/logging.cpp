#include "app/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace nodus::app {

std::shared_ptr<spdlog::logger> setup_logging(const config::config& cfg) {
  auto diagnostics = spdlog::stderr_logger_mt("nodus");
  diagnostics->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  diagnostics->set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_default_logger(diagnostics);
  if (!cfg.access_log) return nullptr;
  auto access = spdlog::stdout_logger_mt("access");
  access->set_pattern("%v");
  access->set_level(spdlog::level::info);
  access->flush_on(spdlog::level::info);
  return access;
}

}  // namespace nodus::app
