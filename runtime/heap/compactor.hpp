#pragma once
// compactor: evacuates old-space pages whose live ratio is below the threshold (empty pages
// always) into the other pages, then updates every reference to a moved object — roots and
// every live object — and releases the evacuated pages.
#include <cstddef>
#include <vector>

#include "runtime/heap/memory_chunk.hpp"

namespace nodus::runtime::heap {

class heap;

struct compaction_result {
  std::size_t pages_evacuated = 0;
  std::size_t objects_moved = 0;
  std::size_t moved_bytes = 0;
};

class compactor {
 public:
  explicit compactor(heap& h) noexcept : heap_(h) {}
  // After marking, before sweeping: flags the candidate pages (the sweeper skips them).
  void select_candidates();
  // After sweeping. Must not allocate on the managed heap (old-space pages excepted).
  compaction_result evacuate_and_update();

 private:
  void update_references();

  heap& heap_;
  std::vector<memory_chunk*> candidates_;
};

}  // namespace nodus::runtime::heap
