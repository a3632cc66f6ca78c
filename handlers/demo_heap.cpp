#include "handlers/demo_heap.hpp"

namespace nodus::handlers {

void register_demo_heap(server::router& routes, const isolate_registry& isolates) {
  register_demo_leak(routes, isolates);
  register_demo_recursion(routes);
  register_demo_cache(routes, isolates);
}

}  // namespace nodus::handlers
