#pragma once
// sweeper: after marking, turns every run of dead objects and free blocks in the old-space
// pages (evacuation candidates excluded) into one free-list block, clears the marks of live
// objects, recomputes used bytes, and frees unmarked large objects.
#include <cstddef>

namespace nodus::runtime::heap {

class heap;

struct sweep_result {
  std::size_t freed_bytes = 0;
  std::size_t live_bytes = 0;
};

class sweeper {
 public:
  explicit sweeper(heap& h) noexcept : heap_(h) {}
  // Must not allocate on the managed heap.
  sweep_result run();

 private:
  heap& heap_;
};

}  // namespace nodus::runtime::heap
