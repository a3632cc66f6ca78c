#pragma once
// large_object_space: objects above the large-object threshold (V8: 128 KiB), one chunk each,
// never moved. Part of the old generation.
#include <cstddef>
#include <vector>

#include "runtime/heap/memory_chunk.hpp"

namespace nodus::runtime::heap {

class large_object_space {
 public:
  large_object_space() = default;
  ~large_object_space();
  large_object_space(const large_object_space&) = delete;
  large_object_space& operator=(const large_object_space&) = delete;

  // Must not trigger GC. nullptr if the OS refuses the memory.
  heap_object* allocate(std::size_t size) noexcept;

  const std::vector<memory_chunk*>& chunks() const noexcept { return chunks_; }
  static heap_object* object_in(memory_chunk* chunk) noexcept {
    return reinterpret_cast<heap_object*>(chunk->area_start());
  }
  std::size_t used_bytes() const noexcept { return used_; }
  std::size_t committed_bytes() const noexcept { return committed_; }
  std::size_t object_count() const noexcept { return chunks_.size(); }

  // Frees every unmarked object and clears the mark of the others; returns bytes freed.
  // `on_dead(object)` is called for each object before it is freed.
  template <class OnDead>
  std::size_t sweep(OnDead&& on_dead) {
    std::size_t freed = 0;
    std::erase_if(chunks_, [&](memory_chunk* chunk) {
      heap_object* object = object_in(chunk);
      if (object->is_marked()) {
        object->header.gc_bits = static_cast<std::uint8_t>(object->header.gc_bits & ~gc_bit::marked);
        return false;
      }
      on_dead(object);
      freed += object->size_bytes();
      used_ -= object->size_bytes();
      committed_ -= chunk->size_bytes();
      memory_chunk::release(chunk);
      return true;
    });
    return freed;
  }

 private:
  std::vector<memory_chunk*> chunks_;
  std::size_t used_ = 0;
  std::size_t committed_ = 0;
};

}  // namespace nodus::runtime::heap
