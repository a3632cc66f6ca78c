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
// Precondition: block_shutdown_signals() ran before the process started any thread.
int serve(const config::config& cfg, std::shared_ptr<spdlog::logger> access_log);

// Blocks SIGINT and SIGTERM in the calling thread and ignores SIGPIPE. Call it first in
// main, before any thread exists (loggers, worker pool, libvips): threads inherit the mask,
// so a shutdown signal stays pending for serve()'s sigtimedwait instead of being delivered
// to a thread that would take the default action and kill the process.
void block_shutdown_signals();

}  // namespace nodus::app
