#pragma once
#include <memory>

#include "config/config.hpp"

namespace spdlog {
class logger;
}

namespace nodus::app {

// Runs the HTTP server: one thread per loop, each with its own event_loop and acceptor on
// the shared port; prints "nodus listening on http://HOST:PORT" once every loop is bound;
// shuts down gracefully on SIGINT/SIGTERM (a second signal closes everything at once).
// Returns the process exit code: 0 after a shutdown, 2 when the address cannot be used.
int serve(const config::config& cfg, std::shared_ptr<spdlog::logger> access_log);

}  // namespace nodus::app
