#pragma once
// The managed heap at work, reproducible with curl (README "See it yourself: the heap"):
//   leaks on the heap (demo_leak.hpp), a stack-overflow guard (demo_recursion.hpp) and a
//   WeakRef cache (demo_cache.hpp). Each loop keeps its own demo state (isolate::state).
#include "handlers/demo_cache.hpp"
#include "handlers/demo_leak.hpp"
#include "handlers/demo_recursion.hpp"
#include "handlers/isolates.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

void register_demo_heap(server::router& routes, const isolate_registry& isolates);

}  // namespace nodus::handlers
