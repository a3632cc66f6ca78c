#include "runtime/heap/scavenger.hpp"

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

namespace {

// Objects are 8-byte multiples of at least 16 bytes; the common small sizes are copied with
// word moves of known count (no call into memcpy and its size dispatch).
inline void copy_object(void* dst, const void* src, std::size_t size) noexcept {
  auto* d = static_cast<std::byte*>(dst);
  const auto* s = static_cast<const std::byte*>(src);
  switch (size / 8) {
    case 8: std::memcpy(d + 56, s + 56, 8); [[fallthrough]];
    case 7: std::memcpy(d + 48, s + 48, 8); [[fallthrough]];
    case 6: std::memcpy(d + 40, s + 40, 8); [[fallthrough]];
    case 5: std::memcpy(d + 32, s + 32, 8); [[fallthrough]];
    case 4: std::memcpy(d + 24, s + 24, 8); [[fallthrough]];
    case 3: std::memcpy(d + 16, s + 16, 8); [[fallthrough]];
    case 2:
      std::memcpy(d + 8, s + 8, 8);
      std::memcpy(d, s, 8);
      return;
    default: std::memcpy(d, s, size); return;
  }
}

constexpr std::size_t to_space_prefetch_distance = 256;

}  // namespace

scavenge_result scavenger::run() {
  new_space& space = heap_.new_space_;
  if (!space.prepare_to_space()) promote_all_ = true;  // no to-space memory: promote everything
  from_start_ = reinterpret_cast<std::uintptr_t>(space.from_space().start());
  from_size_ = space.from_space().capacity();
  std::byte* const to_start = space.to_space().start();
  to_start_ = reinterpret_cast<std::uintptr_t>(to_start);
  to_size_ = space.to_space().capacity();
  to_top_ = space.to_top();
  to_end_ = space.to_space().end();

  heap_.visit_roots([&](value* slot, root_category) { enqueue(slot, nullptr); });
  drain_all();

  // Remembered slots: a slot stays recorded only while it still points into new space.
  auto process_chunk = [&](memory_chunk* chunk) {
    slot_set& set = chunk->remembered();
    if (set.empty()) return;
    set.for_each([&](std::size_t offset) { enqueue(reinterpret_cast<value*>(chunk->base() + offset), chunk); });
    drain_all();  // before release_if_empty, and before the next chunk
    set.release_if_empty();
  };
  // Index loops: promotion may add pages (whose remembered sets are empty).
  const auto& pages = heap_.old_.pages();
  for (std::size_t i = 0, n = pages.size(); i < n; ++i) process_chunk(pages[i]);
  for (memory_chunk* chunk : heap_.large_.chunks()) process_chunk(chunk);

  // Cheney scan of to-space, interleaved with the scan of promoted objects.
  std::byte* scan = to_start;
  for (;;) {
    while (scan < to_top_) {
      auto* object = reinterpret_cast<heap_object*>(scan);
      scan += object->size_bytes();
      scan_young(object);
    }
    if (promoted_.empty()) break;
    heap_object* object = promoted_.back();
    promoted_.pop_back();
    scan_promoted(object);
  }

  scavenge_result result;
  result.copied_bytes = static_cast<std::size_t>(to_top_ - to_start);
  result.promoted_bytes = promoted_bytes_;
  result.objects_moved = objects_moved_;
  space.set_to_top(to_top_);
  space.flip();
  space.record_survivors(result.copied_bytes + result.promoted_bytes);
  return result;
}

void scavenger::enqueue(value* slot, memory_chunk* chunk) {
  const value v = *slot;
  if (!in_from_space(v)) {
    // Nothing to evacuate; a remembered slot that no longer points young is dropped.
    if (chunk != nullptr && !in_to_space(v)) {
      chunk->remembered().erase(static_cast<std::size_t>(reinterpret_cast<std::byte*>(slot) - chunk->base()));
    }
    return;
  }
  __builtin_prefetch(v.as_object(), 1, 3);  // its header is read, then overwritten (forwarding)
  if (pending_count_ == lookahead) drain_one();
  pending_[(pending_head_ + pending_count_) & (lookahead - 1)] = {slot, chunk};
  ++pending_count_;
}

void scavenger::drain_one() {
  const pending_slot p = pending_[pending_head_];
  pending_head_ = (pending_head_ + 1) & (lookahead - 1);
  --pending_count_;
  process_slot(p.slot, p.chunk == nullptr ? referrer::root : referrer::old);
  if (p.chunk != nullptr && !in_to_space(*p.slot)) {
    p.chunk->remembered().erase(static_cast<std::size_t>(reinterpret_cast<std::byte*>(p.slot) - p.chunk->base()));
  }
}

inline void scavenger::process_slot(value* slot, referrer from) {
  const value v = *slot;
  if (!in_from_space(v)) return;
  assert(v.is_reference());
  heap_object* object = v.as_object();
  if (object->is_forwarded()) {
    *slot = value::reference(object->forwarding_address());
    return;
  }
  *slot = value::reference(evacuate(object, from));
}

void scavenger::scan_young(heap_object* object) {
  for_each_slot(object, [&](value* slot) { process_slot(slot, referrer::young); });
}

void scavenger::scan_promoted(heap_object* object) {
  for_each_slot(object, [&](value* slot) {
    process_slot(slot, referrer::old);
    if (in_to_space(*slot)) heap_.record_slot(object, slot);
  });
}

heap_object* scavenger::promote(heap_object* object, std::size_t size) {
  // Promotion is not limited by max_old_space_size (bounded by new space); the heap checks
  // the limit after the GC.
  heap_object* target = heap_.old_.allocate(size, true);
  if (target == nullptr) return nullptr;
  copy_object(target, object, size);
  target->header.gc_bits = 0;
  promoted_.push_back(target);
  promoted_bytes_ += size;
  return target;
}

inline heap_object* scavenger::evacuate(heap_object* object, referrer from) {
  const std::size_t size = object->size_bytes();
  const std::uint8_t bits = object->header.gc_bits;
  bool promote_it = promote_all_;
  if (!promote_it) {
    if (is_backing_store(object->kind()) && from != referrer::root) {
      promote_it = from == referrer::old;  // follow the owner
    } else {
      promote_it = (bits & gc_bit::survived) != 0;
    }
  }
  heap_object* target = nullptr;
  if (promote_it) target = promote(object, size);
  if (target == nullptr) {
    if (static_cast<std::size_t>(to_end_ - to_top_) < size) [[unlikely]] {
      // Unreachable: to-space is at least as large as from-space's contents.
      std::fputs("nodus heap: scavenger out of to-space and old-space memory\n", stderr);
      std::abort();
    }
    target = reinterpret_cast<heap_object*>(to_top_);
    to_top_ += size;
    // The next few objects' lines, with write intent: copying into a line that is not in the
    // cache stalls on its read-for-ownership otherwise.
    __builtin_prefetch(to_top_ + to_space_prefetch_distance, 1, 3);
    copy_object(target, object, size);
    target->header.gc_bits = gc_bit::survived;
  }
  ++objects_moved_;
  object->header.gc_bits = static_cast<std::uint8_t>(bits | gc_bit::forwarded);
  object->header.id_or_forward = reinterpret_cast<std::uintptr_t>(target);
  return target;
}

}  // namespace nodus::runtime::heap
