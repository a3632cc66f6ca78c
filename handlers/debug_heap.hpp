#pragma once
// Managed-heap observability (issue 7), one entry per loop, `?loop=k` to pick one:
//   GET  /debug/heap                 v8.getHeapStatistics() fields + objects per kind, the
//                                    object store, the leak detector and the WeakRef cache demo
//   GET  /debug/heap/spaces          v8.getHeapSpaceStatistics() shape
//   GET  /debug/gc                   recent GC events, per-kind totals and pause histograms
//   POST /debug/gc?kind=minor|major  runs one GC (global.gc({type}) in Node) and returns its event
#include <boost/json/object.hpp>

#include "handlers/isolates.hpp"
#include "runtime/heap/gc_tracer.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

void register_debug_heap(server::router& routes, const isolate_registry& isolates);

// One GC event as JSON (ms for times, bytes for sizes; kind/reason as V8 names them).
boost::json::object gc_event_json(const runtime::heap::gc_event& e);

}  // namespace nodus::handlers
