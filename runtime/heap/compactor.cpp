#include "runtime/heap/compactor.hpp"

#include <algorithm>
#include <cstring>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

void compactor::select_candidates() {
  const heap_options& options = heap_.options_;
  std::vector<memory_chunk*> sparse;
  for (memory_chunk* page : heap_.old_.pages()) {
    page->evacuation_candidate = false;
    const double ratio = static_cast<double>(page->live_bytes) / static_cast<double>(page->area_bytes());
    if (page->live_bytes == 0) {
      page->evacuation_candidate = true;  // nothing to move: just released
      candidates_.push_back(page);
    } else if (ratio < options.compaction_live_ratio) {
      sparse.push_back(page);
    }
  }
  // Sparsest first, within the per-GC budget. A single sparse page is only worth moving if
  // another page can take its objects.
  std::sort(sparse.begin(), sparse.end(),
            [](memory_chunk* a, memory_chunk* b) { return a->live_bytes < b->live_bytes; });
  std::size_t budget = options.max_evacuated_bytes;
  const std::size_t non_empty = heap_.old_.pages().size() - candidates_.size();
  if (non_empty < 2) return;  // moving the only page's objects to a fresh page gains nothing
  for (memory_chunk* page : sparse) {
    if (page->live_bytes > budget) break;
    budget -= page->live_bytes;
    page->evacuation_candidate = true;
    candidates_.push_back(page);
  }
}

compaction_result compactor::evacuate_and_update() {
  compaction_result r;
  old_space& space = heap_.old_;
  for (memory_chunk* page : candidates_) {
    if (page->live_bytes == 0) continue;
    std::byte* p = page->area_start();
    while (p < page->area_end()) {
      auto* object = reinterpret_cast<heap_object*>(p);
      const std::size_t size = object->size_bytes();
      p += size;
      if (is_filler(object->kind()) || !object->is_marked()) continue;
      heap_object* target = space.allocate(size, true);
      if (target == nullptr) {
        // No memory for a new page: this object stays; its page must then stay too.
        page->evacuation_candidate = false;
        page->partially_evacuated = true;
        continue;
      }
      std::memcpy(target, object, size);
      target->header.gc_bits = static_cast<std::uint8_t>(target->header.gc_bits & ~gc_bit::marked);
      object->header.gc_bits |= gc_bit::forwarded;
      object->header.id_or_forward = reinterpret_cast<std::uintptr_t>(target);
      ++r.objects_moved;
      r.moved_bytes += size;
    }
  }
  update_references();
  // A candidate that could not be fully evacuated (OS refused a page) stays and is swept.
  for (memory_chunk* page : candidates_) {
    if (page->evacuation_candidate) {
      ++r.pages_evacuated;
      continue;
    }
    page->partially_evacuated = false;
    std::byte* p = page->area_start();
    std::byte* free_start = nullptr;
    std::size_t live = 0;
    while (p < page->area_end()) {
      auto* object = reinterpret_cast<heap_object*>(p);
      const std::size_t size = object->size_bytes();
      const bool stays = !is_filler(object->kind()) && object->is_marked() && !object->is_forwarded();
      if (stays) {
        if (free_start != nullptr) space.free_blocks().add(free_start, static_cast<std::size_t>(p - free_start));
        free_start = nullptr;
        object->header.gc_bits = static_cast<std::uint8_t>(object->header.gc_bits & ~gc_bit::marked);
        live += size;
      } else if (free_start == nullptr) {
        free_start = p;
      }
      p += size;
    }
    if (free_start != nullptr) {
      space.free_blocks().add(free_start, static_cast<std::size_t>(page->area_end() - free_start));
    }
    space.set_used_bytes(space.used_bytes() + live);
  }
  space.release_pages_if([](memory_chunk* page) { return page->evacuation_candidate; });
  return r;
}

void compactor::update_references() {
  auto update = [](value* slot) {
    const value v = *slot;
    if (v.is_reference() && v.as_object()->is_forwarded()) *slot = value::reference(v.as_object()->forwarding_address());
  };
  heap_.visit_roots([&](value* slot, root_category) { update(slot); });
  old_space& space = heap_.old_;
  space.retire_lab();
  for (memory_chunk* page : space.pages()) {
    if (page->evacuation_candidate) continue;
    const bool partial = page->partially_evacuated;
    std::byte* p = page->area_start();
    while (p < page->area_end()) {
      auto* object = reinterpret_cast<heap_object*>(p);
      p += object->size_bytes();
      if (is_filler(object->kind())) continue;
      // In a partially evacuated page only the unmoved live objects are real.
      if (partial && (!object->is_marked() || object->is_forwarded())) continue;
      for_each_slot(object, update);
    }
  }
  for (memory_chunk* chunk : heap_.large_.chunks()) for_each_slot(large_object_space::object_in(chunk), update);
}

}  // namespace nodus::runtime::heap
