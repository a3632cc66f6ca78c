#pragma once
// scavenger: the minor GC — Cheney's copying collector over new space. Roots: handles,
// persistents, kept objects, pending finalizations, and the remembered sets (old→new slots).
// An object is copied within new space on its first survival and promoted to old space on
// its second; a backing store goes where its owner goes. Weak references are strong here:
// only the major GC clears them.
//
// Performance: the semi-space bounds and the to-space bump pointer live in the scavenger
// (one unsigned compare per slot: "points into from-space"); root and remembered slots go
// through a short prefetching pipeline (the target's header is prefetched `lookahead` slots
// before it is evacuated, so independent cache misses overlap); objects are copied with
// word moves of their known size; references are visited by a per-kind switch (no indirect
// calls); statistics are counters kept in the scavenger and derived at the end.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

class heap;
class memory_chunk;

struct scavenge_result {
  std::size_t copied_bytes = 0;
  std::size_t promoted_bytes = 0;
  std::size_t objects_moved = 0;
};

class scavenger {
 public:
  // promote_all: empty new space completely (the first step of a major GC).
  scavenger(heap& h, bool promote_all) noexcept : heap_(h), promote_all_(promote_all) {}
  // Must not allocate on the managed heap; never fails.
  scavenge_result run();

 private:
  enum class referrer : std::uint8_t { root, young, old };
  // A reference is its object's address and every primitive encodes outside the user address
  // range (NaN-boxing: numbers >= 2^49, other tags < 0x20), so one unsigned compare tells
  // "a reference into the space".
  bool in_from_space(value v) const noexcept { return v.bits() - from_start_ < from_size_; }
  bool in_to_space(value v) const noexcept { return v.bits() - to_start_ < to_size_; }

  void process_slot(value* slot, referrer from);
  heap_object* evacuate(heap_object* object, referrer from);
  heap_object* promote(heap_object* object, std::size_t size);
  void scan_young(heap_object* object);
  void scan_promoted(heap_object* object);

  // The prefetching pipeline for root slots (chunk == nullptr) and remembered slots.
  struct pending_slot {
    value* slot;
    memory_chunk* chunk;
  };
  static constexpr std::size_t lookahead = 16;  // a power of two
  void enqueue(value* slot, memory_chunk* chunk);
  void drain_one();
  void drain_all() {
    while (pending_count_ != 0) drain_one();
  }

  heap& heap_;
  bool promote_all_;
  std::uint64_t from_start_ = 0, from_size_ = 0;
  std::uint64_t to_start_ = 0, to_size_ = 0;
  std::byte* to_top_ = nullptr;
  std::byte* to_end_ = nullptr;
  pending_slot pending_[lookahead] = {};
  std::size_t pending_head_ = 0, pending_count_ = 0;
  std::vector<heap_object*> promoted_;
  std::size_t promoted_bytes_ = 0;
  std::size_t objects_moved_ = 0;
};

}  // namespace nodus::runtime::heap
