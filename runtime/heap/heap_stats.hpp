#pragma once
// Plain statistics structs, filled by the heap; formatting (JSON, Prometheus) lives in
// handlers/. Field names are exactly those of Node's v8.getHeapStatistics() and
// v8.getHeapSpaceStatistics().
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

struct heap_statistics {
  std::size_t total_heap_size = 0;             // committed: both semi-spaces, pages, large objects
  std::size_t total_heap_size_executable = 0;  // always 0: no code space
  std::size_t total_physical_size = 0;
  std::size_t total_available_size = 0;       // heap_size_limit - used_heap_size
  std::size_t used_heap_size = 0;
  std::size_t heap_size_limit = 0;            // max old generation + both max semi-spaces
  std::size_t malloced_memory = 0;            // side tables: handles, remembered sets, callbacks
  std::size_t peak_malloced_memory = 0;
  std::size_t does_zap_garbage = 0;
  std::size_t number_of_native_contexts = 1;
  std::size_t number_of_detached_contexts = 0;
  std::size_t total_global_handles_size = 0;
  std::size_t used_global_handles_size = 0;
  std::size_t external_memory = 0;
};

struct heap_space_statistics {
  std::string space_name;  // "new_space", "old_space", "large_object_space"
  std::size_t space_size = 0;
  std::size_t space_used_size = 0;
  std::size_t space_available_size = 0;
  std::size_t physical_space_size = 0;
};

struct kind_statistics {
  std::size_t count = 0;
  std::size_t size_bytes = 0;
};

// Objects of each kind currently in the heap (garbage not yet collected included; call
// right after a major GC for live-only figures).
struct object_statistics {
  std::array<kind_statistics, object_kind_count> by_kind{};
  const kind_statistics& operator[](object_kind k) const noexcept {
    return by_kind[static_cast<std::size_t>(k)];
  }
};

}  // namespace nodus::runtime::heap
