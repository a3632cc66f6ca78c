#pragma once
// The worker-pool endpoints (issue 5). CPU work runs on the shared worker_pool, never on the
// loop; a client that disconnects cancels its queued job; a full queue answers 503 with
// Retry-After; every bad input answers a 4xx JSON error.
//   POST /hash?alg=&encoding=        digest of the request body ({"alg","digest","bytes"})
//   GET  /hash/files/<path>?alg=     digest of a file under --root, hashed in place (mapped) on the pool
//   POST /image/resize?width&height&fit&format&quality   resized image (libvips, shrink-on-load)
//   GET  /image/files/<path>?...     the same for an image file under --root
//   GET  /demo/offload?ms=N          /demo/block's busy work, on the pool (N <= 10000)
//   GET  /debug/workers              pool_stats as JSON, with per-kind histograms
#include <boost/json/object.hpp>

#include <cstdint>

#include "config/config.hpp"
#include "handlers/debug_loop.hpp"
#include "runtime/workers/pool_stats.hpp"
#include "runtime/workers/worker_pool.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

// `pool` must outlive every loop serving these routes.
void register_workers(server::router& routes, runtime::workers::worker_pool& pool,
                      const config::config& cfg);

// pool_stats as JSON: totals, then per job kind counters and the queue-wait and run-time
// histograms (power-of-two microsecond buckets, Prometheus-style cumulative `le` bounds).
boost::json::object pool_stats_json(const runtime::workers::pool_stats& s);

// /demo/offload's cap: the same as /demo/block's.
inline constexpr std::int64_t max_offload_ms = max_block_ms;

}  // namespace nodus::handlers
