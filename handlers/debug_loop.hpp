#pragma once
// Event-loop observability and demos (issue "Node-faithful event loop"):
//   GET  /debug/loop[?loop=k]     loop_stats of every loop (or loop k) as JSON
//   POST /debug/loop/scenario     runs a scenario on the loop serving the request
//   GET  /demo/block?ms=N         busy-spins the serving loop for N ms (N <= 10000)
//   GET  /demo/starve?ticks=N     N recursive next_ticks before answering (N <= 50,000,000)
#include <boost/json/object.hpp>

#include "handlers/isolates.hpp"
#include "runtime/loop/loop_stats.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

void register_debug_loop(server::router& routes, const isolate_registry& isolates);

// loop_stats as JSON, Node's names where Node has one (eventLoopUtilization, the
// monitorEventLoopDelay histogram in ns).
boost::json::object loop_stats_json(const runtime::loop::loop_stats& s);

inline constexpr std::int64_t max_block_ms = 10'000;
inline constexpr std::int64_t max_starve_ticks = 50'000'000;

}  // namespace nodus::handlers
