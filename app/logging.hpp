#pragma once
// Process-wide logging: diagnostics to stderr at --log-level; the access log (one line per
// request, --access-log) to stdout.
#include <memory>

#include "config/config.hpp"

namespace spdlog {
class logger;
}

namespace nodus::app {

// Returns the access logger, or null when the access log is off.
std::shared_ptr<spdlog::logger> setup_logging(const config::config& cfg);

}  // namespace nodus::app
