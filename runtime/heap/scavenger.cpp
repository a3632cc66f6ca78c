#include "runtime/heap/scavenger.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

scavenge_result scavenger::run() {
  new_space& space = heap_.new_space_;
  if (!space.prepare_to_space()) promote_all_ = true;  // no to-space memory: promote everything

  heap_.visit_roots([&](value* slot, root_category) { process_slot(slot, referrer::root); });

  // Remembered slots: a slot stays recorded only while it still points into new space.
  auto process_chunk = [&](memory_chunk* chunk) {
    chunk->remembered().filter([&](std::size_t offset) {
      auto* slot = reinterpret_cast<value*>(chunk->base() + offset);
      process_slot(slot, referrer::old);
      return slot->is_reference() && space.to_space().contains(slot->as_object());
    });
  };
  // Index loops: promotion may add pages (whose remembered sets are empty).
  const auto& pages = heap_.old_.pages();
  for (std::size_t i = 0, n = pages.size(); i < n; ++i) process_chunk(pages[i]);
  for (memory_chunk* chunk : heap_.large_.chunks()) process_chunk(chunk);

  // Cheney scan of to-space, interleaved with the scan of promoted objects.
  std::byte* scan = space.to_space().start();
  for (;;) {
    while (scan < space.to_top()) {
      auto* object = reinterpret_cast<heap_object*>(scan);
      for_each_slot(object, [&](value* slot) { process_slot(slot, referrer::young); });
      scan += object->size_bytes();
    }
    if (promoted_.empty()) break;
    heap_object* object = promoted_.back();
    promoted_.pop_back();
    scan_promoted(object);
  }

  const std::size_t survived = static_cast<std::size_t>(space.to_top() - space.to_space().start());
  space.flip();
  space.record_survivors(survived + result_.promoted_bytes);
  return result_;
}

void scavenger::scan_promoted(heap_object* object) {
  new_space& space = heap_.new_space_;
  for_each_slot(object, [&](value* slot) {
    process_slot(slot, referrer::old);
    if (slot->is_reference() && space.to_space().contains(slot->as_object())) heap_.record_slot(object, slot);
  });
}

void scavenger::process_slot(value* slot, referrer from) {
  const value v = *slot;
  if (!v.is_reference()) return;
  heap_object* object = v.as_object();
  if (!heap_.new_space_.from_space().contains(object)) return;
  if (object->is_forwarded()) {
    *slot = value::reference(object->forwarding_address());
    return;
  }
  *slot = value::reference(evacuate(object, from));
}

heap_object* scavenger::evacuate(heap_object* object, referrer from) {
  const std::size_t size = object->size_bytes();
  bool promote = promote_all_;
  if (!promote) {
    if (is_backing_store(object->kind()) && from != referrer::root) {
      promote = from == referrer::old;  // follow the owner
    } else {
      promote = (object->header.gc_bits & gc_bit::survived) != 0;
    }
  }
  heap_object* target = nullptr;
  if (promote) {
    // Promotion is not limited by max_old_space_size (bounded by new space); the heap checks
    // the limit after the GC.
    target = reinterpret_cast<heap_object*>(heap_.old_.allocate(size, true));
    if (target != nullptr) {
      std::memcpy(target, object, size);
      target->header.gc_bits = 0;
      promoted_.push_back(target);
      result_.promoted_bytes += size;
    }
  }
  if (target == nullptr) {
    target = heap_.new_space_.allocate_in_to_space(size);
    if (target == nullptr) {
      // Unreachable: to-space is at least as large as from-space's contents.
      std::fputs("nodus heap: scavenger out of to-space and old-space memory\n", stderr);
      std::abort();
    }
    std::memcpy(target, object, size);
    target->header.gc_bits = gc_bit::survived;
    result_.copied_bytes += size;
  }
  ++result_.objects_moved;
  object->header.gc_bits |= gc_bit::forwarded;
  object->header.id_or_forward = reinterpret_cast<std::uintptr_t>(target);
  return target;
}

}  // namespace nodus::runtime::heap
