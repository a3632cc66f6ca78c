#include "runtime/heap/marker.hpp"

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

void marker::run() {
  for (memory_chunk* page : heap_.old_.pages()) page->live_bytes = 0;
  for (memory_chunk* chunk : heap_.large_.chunks()) chunk->live_bytes = 0;
  heap_.visit_roots([&](value* slot, root_category) { mark(*slot); });
  do {
    drain();
    ++ephemeron_iterations_;
  } while (process_ephemerons());
}

bool marker::mark_object(heap_object* object) noexcept {
  if (object->is_marked()) return false;
  object->header.gc_bits |= gc_bit::marked;
  marked_bytes_ += object->size_bytes();
  memory_chunk::of(object)->live_bytes += object->size_bytes();
  return true;
}

void marker::mark(value v) {
  if (!v.is_reference()) return;
  heap_object* object = v.as_object();
  if (mark_object(object)) worklist_.push_back(object);
}

void marker::drain() {
  while (!worklist_.empty()) {
    heap_object* object = worklist_.back();
    worklist_.pop_back();
    visit(object);
  }
}

void marker::visit(heap_object* object) {
  switch (object->kind()) {
    case object_kind::weak_ref:
      weak_refs_.push_back(static_cast<weak_ref_object*>(object));
      return;
    case object_kind::weak_map: {
      auto* map = static_cast<weak_map_object*>(object);
      auto* table = map->table.as<fixed_array_object>();
      mark_object(table);  // live, but its entries are ephemerons
      tables_.push_back(table);
      return;
    }
    case object_kind::finalization_registry: {
      auto* registry = static_cast<finalization_registry_object*>(object);
      registries_.push_back(registry);
      auto* cells = registry->cells.as<fixed_array_object>();
      mark_object(cells);
      for (std::uint32_t i = 0; i < cells->used; ++i) mark(cells->slots()[i * registry_cell_slots + 1]);
      return;
    }
    default:
      for_each_slot(object, [&](value* slot) { mark(*slot); });
      return;
  }
}

bool marker::process_ephemerons() {
  bool progress = false;
  for (fixed_array_object* table : tables_) {
    value* entries = table->slots();
    for (std::uint32_t i = 0; i < table->capacity; i += 2) {
      const value key = entries[i];
      if (!key.is_reference() || !key.as_object()->is_marked()) continue;
      const value v = entries[i + 1];
      if (v.is_reference() && !v.as_object()->is_marked()) {
        mark(v);
        progress = true;
      }
    }
  }
  return progress;
}

weak_result weak_processor::run() {
  weak_result r;
  auto dead = [](value v) { return v.is_reference() && !v.as_object()->is_marked(); };

  for (weak_ref_object* ref : marker_.weak_refs()) {
    if (dead(ref->target)) {
      ref->target = value::undefined();
      ++r.weak_refs_cleared;
    }
  }
  for (fixed_array_object* table : marker_.ephemeron_tables()) {
    value* entries = table->slots();
    for (std::uint32_t i = 0; i < table->capacity; i += 2) {
      if (!dead(entries[i])) continue;
      entries[i] = value::deleted();
      entries[i + 1] = value::undefined();
      --table->used;
      ++table->deleted;
      ++r.ephemerons_cleared;
    }
  }
  std::vector<bool> live_callbacks(heap_.cleanup_callbacks_.size(), false);
  for (finalization_registry_object* registry : marker_.registries()) {
    live_callbacks[registry->callback_index] = true;
    auto* cells = registry->cells.as<fixed_array_object>();
    value* slots = cells->slots();
    for (std::uint32_t i = 0; i < cells->used;) {
      value* cell = slots + i * registry_cell_slots;
      if (dead(cell[2])) cell[2] = value::undefined();
      if (!dead(cell[0])) {
        ++i;
        continue;
      }
      heap_.pending_cleanups_.push_back(value::reference(registry));
      heap_.pending_cleanups_.push_back(cell[1]);
      heap_.pending_cleanups_.push_back(cell[2]);
      ++r.finalizers_scheduled;
      // Swap-remove: cell order carries no meaning.
      value* last = slots + (cells->used - 1) * registry_cell_slots;
      for (std::size_t k = 0; k < registry_cell_slots; ++k) {
        cell[k] = last[k];
        last[k] = value::undefined();
      }
      --cells->used;
    }
  }
  for (std::uint32_t i = 0; i < live_callbacks.size(); ++i) {
    if (!live_callbacks[i] && heap_.cleanup_callbacks_[i]) {
      heap_.cleanup_callbacks_[i] = nullptr;
      heap_.free_callback_slots_.push_back(i);
    }
  }
  return r;
}

}  // namespace nodus::runtime::heap
