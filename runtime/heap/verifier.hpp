#pragma once
// verifier: checks the heap's invariants outside GC — every object well-formed, every
// reference (slots and roots) to the start of a live object in the active semi-space, an
// old-space page or a large chunk (never from-space, a filler, or freed memory), backing
// stores owned by the right kinds, pages exactly tiled, and every old→new slot remembered.
#include <string>
#include <vector>

namespace nodus::runtime::heap {

class heap;

class verifier {
 public:
  explicit verifier(heap& h) noexcept : heap_(h) {}
  // Findings, empty when the heap is consistent. Must not allocate on the managed heap.
  std::vector<std::string> run();

 private:
  heap& heap_;
};

}  // namespace nodus::runtime::heap
