#pragma once
// marker: the marking phase of the major GC — an explicit worklist from the roots (no
// recursion), then the ephemeron fixpoint: a WeakMap value is marked once its key is.
// Runs when new space is empty. WeakRef targets, WeakMap entries and FinalizationRegistry
// targets/tokens are not traced; the live containers are collected for weak processing.
#include <cstddef>
#include <vector>

#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

class heap;

class marker {
 public:
  explicit marker(heap& h) noexcept : heap_(h) {}
  // Must not allocate on the managed heap.
  void run();

  const std::vector<weak_ref_object*>& weak_refs() const noexcept { return weak_refs_; }
  const std::vector<fixed_array_object*>& ephemeron_tables() const noexcept { return tables_; }
  const std::vector<finalization_registry_object*>& registries() const noexcept { return registries_; }
  std::size_t marked_bytes() const noexcept { return marked_bytes_; }
  std::size_t ephemeron_iterations() const noexcept { return ephemeron_iterations_; }

 private:
  void mark(value v);
  bool mark_object(heap_object* object) noexcept;  // false if already marked
  void visit(heap_object* object);
  void drain();
  bool process_ephemerons();

  heap& heap_;
  std::vector<heap_object*> worklist_;
  std::vector<weak_ref_object*> weak_refs_;
  std::vector<fixed_array_object*> tables_;
  std::vector<finalization_registry_object*> registries_;
  std::size_t marked_bytes_ = 0;
  std::size_t ephemeron_iterations_ = 0;
};

struct weak_result {
  std::size_t weak_refs_cleared = 0;
  std::size_t ephemerons_cleared = 0;
  std::size_t finalizers_scheduled = 0;
};

// Clears what marking left unmarked: WeakRef targets, WeakMap entries with dead keys,
// registry cells with dead targets (their held values queued for cleanup tasks), dead
// tokens; releases the cleanup callbacks of dead registries. Must not allocate on the heap.
class weak_processor {
 public:
  weak_processor(heap& h, const marker& m) noexcept : heap_(h), marker_(m) {}
  weak_result run();

 private:
  heap& heap_;
  const marker& marker_;
};

}  // namespace nodus::runtime::heap
