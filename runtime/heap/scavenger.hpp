#pragma once
// scavenger: the minor GC — Cheney's copying collector over new space. Roots: handles,
// persistents, kept objects, pending finalizations, and the remembered sets (old→new slots).
// An object is copied within new space on its first survival and promoted to old space on
// its second; a backing store goes where its owner goes. Weak references are strong here:
// only the major GC clears them.
#include <cstddef>
#include <vector>

#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

class heap;

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
  enum class referrer { root, young, old };
  void process_slot(value* slot, referrer from);
  heap_object* evacuate(heap_object* object, referrer from);
  void scan_promoted(heap_object* object);

  heap& heap_;
  bool promote_all_;
  std::vector<heap_object*> promoted_;
  scavenge_result result_;
};

}  // namespace nodus::runtime::heap
