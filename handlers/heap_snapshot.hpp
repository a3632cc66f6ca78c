#pragma once
// Heap snapshots over HTTP (issue 7):
//   GET /debug/heap/snapshot[?loop=k]   a V8 .heapsnapshot of loop k's heap (default: the loop
//                                       serving the request), for Chrome DevTools → Memory → Load
// The document streams with chunked encoding while it is written (runtime/heap/heap_snapshot.hpp):
// loop k writes the next 64 KiB piece only once the previous one is on the socket, so the
// response never exists in memory as a whole. At most max_snapshots_per_loop at a time per
// loop (each defers that heap's GC): more get 503 + Retry-After.
#include <cstddef>

#include "handlers/isolates.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

void register_heap_snapshot(server::router& routes, const isolate_registry& isolates);

inline constexpr std::size_t max_snapshots_per_loop = 2;

}  // namespace nodus::handlers
