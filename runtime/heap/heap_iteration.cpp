// Read-only views of heap: references and roots for snapshot writers, statistics.
#include <algorithm>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

void heap::for_each_reference(const heap_object* object, const std::function<void(const heap_reference&)>& fn) const {
  auto emit = [&](edge_kind kind, std::string_view name, std::uint32_t index, value target) {
    if (target.is_reference()) fn(heap_reference{kind, name, index, target});
  };
  switch (object->kind()) {
    case object_kind::array: {
      const auto* a = static_cast<const array_object*>(object);
      if (!a->elements.is_reference()) return;
      const auto* store = a->elements.as<fixed_array_object>();
      for (std::uint32_t i = 0; i < a->length; ++i) emit(edge_kind::element, {}, i, store->slots()[i]);
      emit(edge_kind::internal, "elements", 0, a->elements);
      return;
    }
    case object_kind::object: {
      const auto* o = static_cast<const js_object*>(object);
      if (!o->properties.is_reference()) return;
      const auto* store = o->properties.as<fixed_array_object>();
      for (std::uint32_t i = 0; i < o->property_count; ++i) {
        emit(edge_kind::property, store->slots()[2 * i].as<string_object>()->view(), i, store->slots()[2 * i + 1]);
      }
      emit(edge_kind::internal, "properties", 0, o->properties);
      return;
    }
    case object_kind::closure:
      emit(edge_kind::context, "context", 0, static_cast<const closure_object*>(object)->context);
      return;
    case object_kind::context: {
      const auto* c = static_cast<const context_object*>(object);
      emit(edge_kind::internal, "previous", 0, c->parent);
      for (std::uint32_t i = 0; i < c->slot_count; ++i) emit(edge_kind::context, {}, i, c->slots()[i]);
      return;
    }
    case object_kind::weak_ref:
      emit(edge_kind::weak, "target", 0, static_cast<const weak_ref_object*>(object)->target);
      return;
    case object_kind::weak_map:
      emit(edge_kind::internal, "table", 0, static_cast<const weak_map_object*>(object)->table);
      return;
    case object_kind::finalization_registry:
      emit(edge_kind::internal, "cells", 0, static_cast<const finalization_registry_object*>(object)->cells);
      return;
    case object_kind::fixed_array: {
      const auto* a = static_cast<const fixed_array_object*>(object);
      for (std::uint32_t i = 0; i < a->capacity; ++i) emit(edge_kind::hidden, {}, i, a->slots()[i]);
      return;
    }
    case object_kind::ephemeron_table: {
      // V8 shows a table's keys and values as weak edges (index = slot).
      const auto* a = static_cast<const fixed_array_object*>(object);
      for (std::uint32_t i = 0; i < a->capacity; i += 2) {
        if (!a->slots()[i].is_reference()) continue;
        emit(edge_kind::weak, "key", i, a->slots()[i]);
        emit(edge_kind::weak, "value", i + 1, a->slots()[i + 1]);
      }
      return;
    }
    case object_kind::registry_cells: {
      const auto* a = static_cast<const fixed_array_object*>(object);
      for (std::uint32_t c = 0; c < a->used; ++c) {
        const value* cell = a->slots() + std::size_t{c} * registry_cell_slots;
        emit(edge_kind::weak, "target", c * 3, cell[0]);
        emit(edge_kind::hidden, "held_value", c * 3 + 1, cell[1]);
        emit(edge_kind::weak, "unregister_token", c * 3 + 2, cell[2]);
      }
      return;
    }
    case object_kind::free_space:
    case object_kind::one_word_filler:
    case object_kind::string:
    case object_kind::byte_array:
      return;
  }
}

void heap::for_each_root(const std::function<void(root_category, value)>& fn) {
  visit_roots([&](value* slot, root_category c) {
    if (slot->is_reference()) fn(c, *slot);
  });
}

heap_object* heap::find_object(std::uint64_t id) {
  heap_object* found = nullptr;
  for_each_object([&](heap_object* o) {
    if (o->id() == id) found = o;
  });
  return found;
}

bool heap::in_large_object_space(value v) const noexcept {
  if (!v.is_reference()) return false;
  return std::any_of(large_.chunks().begin(), large_.chunks().end(),
                     [&](memory_chunk* c) { return large_object_space::object_in(c) == v.as_object(); });
}

std::size_t heap::remembered_slot_count() const noexcept {
  std::size_t n = 0;
  for (memory_chunk* page : old_.pages()) n += page->remembered().size();
  for (memory_chunk* chunk : large_.chunks()) n += chunk->remembered().size();
  return n;
}

object_statistics heap::object_stats() {
  object_statistics stats;
  for_each_object([&](heap_object* o) {
    auto& k = stats.by_kind[static_cast<std::size_t>(o->kind())];
    ++k.count;
    k.size_bytes += o->size_bytes();
  });
  return stats;
}

heap_statistics heap::statistics() const noexcept {
  heap_statistics s;
  const std::size_t committed = new_space_.committed_bytes() + old_.committed_bytes() + large_.committed_bytes();
  const std::size_t used = new_space_.used_bytes() + old_generation_used_bytes();
  s.total_heap_size = committed;
  s.total_physical_size = committed;
  s.used_heap_size = used;
  s.heap_size_limit = options_.max_old_space_bytes + 2 * new_space_.max_capacity();
  s.total_available_size = s.heap_size_limit > used ? s.heap_size_limit - used : 0;
  std::size_t malloced = handles_.memory_bytes() + persistents_.capacity_slots() * sizeof(value) +
                         (kept_.capacity() + pending_cleanups_.capacity()) * sizeof(value) +
                         cleanup_callbacks_.capacity() * sizeof(cleanup_callback);
  for (memory_chunk* page : old_.pages()) malloced += page->remembered().memory_bytes();
  for (memory_chunk* chunk : large_.chunks()) malloced += chunk->remembered().memory_bytes();
  s.malloced_memory = malloced;
  s.peak_malloced_memory = std::max(peak_malloced_, malloced);
  s.total_global_handles_size = persistents_.capacity_slots() * sizeof(value);
  s.used_global_handles_size = persistents_.size() * sizeof(value);
  return s;
}

std::vector<heap_space_statistics> heap::space_statistics() const {
  std::vector<heap_space_statistics> spaces;
  heap_space_statistics n;
  n.space_name = "new_space";
  n.space_size = new_space_.committed_bytes();
  n.space_used_size = new_space_.used_bytes();
  n.space_available_size = new_space_.capacity() - new_space_.used_bytes();
  n.physical_space_size = n.space_size;
  spaces.push_back(std::move(n));
  heap_space_statistics o;
  o.space_name = "old_space";
  o.space_size = old_.committed_bytes();
  o.space_used_size = old_.used_bytes();
  o.space_available_size = old_.available_bytes();
  o.physical_space_size = o.space_size;
  spaces.push_back(std::move(o));
  heap_space_statistics l;
  l.space_name = "large_object_space";
  l.space_size = large_.committed_bytes();
  l.space_used_size = large_.used_bytes();
  l.space_available_size = 0;
  l.physical_space_size = l.space_size;
  spaces.push_back(std::move(l));
  return spaces;
}

}  // namespace nodus::runtime::heap
