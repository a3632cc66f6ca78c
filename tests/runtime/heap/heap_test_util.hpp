#pragma once
// Shared helpers for the heap tests.
#include <cstdlib>
#include <deque>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {
// Lets Catch print results holding locals.
template <class T>
std::ostream& operator<<(std::ostream& os, const local<T>& l) {
  return os << "local(" << l.get().bits() << ")";
}
}  // namespace nodus::runtime::heap

namespace nodus::runtime::heap::testing {

// NODUS_TEST_SCALE=small (asan/tsan presets) shrinks the long randomized tests.
inline bool small_scale() {
  const char* s = std::getenv("NODUS_TEST_SCALE");
  return s != nullptr && std::string_view(s) == "small";
}

// Stands in for the event loop's task queue.
struct task_queue {
  std::deque<std::function<void()>> tasks;
  heap::task_scheduler scheduler() {
    return [this](std::function<void()> t) { tasks.push_back(std::move(t)); };
  }
  std::size_t run_all() {
    std::size_t n = 0;
    while (!tasks.empty()) {
      auto t = std::move(tasks.front());
      tasks.pop_front();
      t();
      ++n;
    }
    return n;
  }
};

// Small spaces so tests exercise every path quickly; verification after every GC.
inline heap_options small_options() {
  heap_options o;
  o.semi_space_bytes = 64 * 1024;
  o.max_semi_space_bytes = 256 * 1024;
  o.initial_old_space_limit_bytes = 1 * mib;
  o.max_old_space_bytes = 64 * mib;
  o.verify_heap = true;
  return o;
}

// A heap whose verifier findings fail the test instead of aborting.
struct checked_heap {
  std::vector<std::string> findings;
  task_queue tasks;
  heap h;
  explicit checked_heap(heap_options o = small_options()) : h(std::move(o), tasks.scheduler()) {
    h.set_verify_failure_handler([this](std::string_view f) { findings.emplace_back(f); });
  }
};

}  // namespace nodus::runtime::heap::testing
