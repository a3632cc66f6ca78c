#pragma once
// GET /metrics: Prometheus text exposition (version 0.0.4) of every loop's event loop, managed
// heap, HTTP server and file streams, the worker pool and the process, under prom-client 15's
// default names (NODE_COMPAT §4) plus http_* and nodus_* families (handlers/metrics_families.hpp,
// docs/metrics.md).
//
// A scrape reads each loop's stats on that loop's thread (isolate_registry), resets each
// loop's event-loop-delay histogram as prom-client does, and measures each loop's lag with a
// setImmediate queued at scrape time.
#include <memory>

#include "handlers/files.hpp"
#include "handlers/isolates.hpp"
#include "runtime/workers/worker_pool.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

// `routes` (for the route labels), `isolates` and `pool` must outlive every loop serving
// /metrics; `files` (nullable) supplies the file-streaming counters.
void register_metrics(server::router& routes, const isolate_registry& isolates,
                      const runtime::workers::worker_pool& pool,
                      std::shared_ptr<const files_endpoints> files);

}  // namespace nodus::handlers
