#include "runtime/heap/sweeper.hpp"

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

sweep_result sweeper::run() {
  sweep_result r;
  old_space& space = heap_.old_;
  free_list& blocks = space.free_blocks();
  blocks.clear();
  for (memory_chunk* page : space.pages()) {
    if (page->evacuation_candidate) continue;
    std::byte* p = page->area_start();
    std::byte* end = page->area_end();
    std::byte* free_start = nullptr;
    while (p < end) {
      auto* object = reinterpret_cast<heap_object*>(p);
      const std::size_t size = object->size_bytes();
      if (object->is_marked() && !is_filler(object->kind())) {
        if (free_start != nullptr) {
          blocks.add(free_start, static_cast<std::size_t>(p - free_start));
          free_start = nullptr;
        }
        object->header.gc_bits = static_cast<std::uint8_t>(object->header.gc_bits & ~gc_bit::marked);
        r.live_bytes += size;
      } else {
        if (!is_filler(object->kind())) r.freed_bytes += size;
        if (free_start == nullptr) free_start = p;
      }
      p += size;
    }
    if (free_start != nullptr) blocks.add(free_start, static_cast<std::size_t>(end - free_start));
  }
  space.set_used_bytes(r.live_bytes);
  r.freed_bytes += heap_.large_.sweep([](heap_object*) {});
  return r;
}

}  // namespace nodus::runtime::heap
