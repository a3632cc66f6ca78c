// heap_snapshot_writer: nodus's objects as V8 shows them — node types and names, and each
// object's edges by position (resumable), read through the copy-on-write view.
#include <string>

#include "runtime/heap/heap_snapshot.hpp"
#include "runtime/heap/heap_snapshot_format.hpp"

namespace nodus::runtime::heap {

using namespace snapshot_format;

// --- the object model as V8 shows it ------------------------------------------------------------------

std::uint8_t heap_snapshot_writer::node_type(const heap_object* object) const noexcept {
  switch (object->kind()) {
    case object_kind::string: return node_string;
    case object_kind::byte_array: return node_native;
    case object_kind::array: return node_array;
    case object_kind::closure: return node_closure;
    case object_kind::object:
    case object_kind::context:  // V8: object "system / Context"
    case object_kind::weak_ref:
    case object_kind::weak_map:
    case object_kind::finalization_registry: return node_object;
    default: return node_hidden;  // backing stores
  }
}

std::string_view heap_snapshot_writer::class_name(const heap_object* object) const noexcept {
  switch (object->kind()) {
    case object_kind::string: return "String";
    case object_kind::byte_array: return "ByteArray";
    case object_kind::array: return "Array";
    case object_kind::object: return "Object";
    case object_kind::closure: return "Function";
    case object_kind::context: return "system / Context";
    case object_kind::weak_ref: return "WeakRef";
    case object_kind::weak_map: return "WeakMap";
    case object_kind::finalization_registry: return "FinalizationRegistry";
    case object_kind::fixed_array: return "system / FixedArray";
    case object_kind::ephemeron_table: return "system / EphemeronHashTable";
    case object_kind::registry_cells: return "system / FinalizationRegistryCells";
    default: return "system / Filler";
  }
}

bool heap_snapshot_writer::name_is_fixed(const heap_object* object) const noexcept {
  return object->kind() != object_kind::string && object->kind() != object_kind::closure;
}

std::string heap_snapshot_writer::node_name(const heap_object* object) const {
  if (object->kind() == object_kind::string) {
    const std::string_view text = truncate_utf8(static_cast<const string_object*>(object)->view(),
                                                options_.string_name_limit);
    return std::string(text);
  }
  const std::uint64_t function_id = static_cast<const closure_object*>(view(object))->function_id;
  if (options_.closure_name) return options_.closure_name(function_id);
  return "function " + std::to_string(function_id);
}

std::uint32_t heap_snapshot_writer::position_count(const heap_object* v) const noexcept {
  switch (v->kind()) {
    case object_kind::array: {
      const auto* a = static_cast<const array_object*>(v);
      return a->elements.is_reference() ? a->length + 1 : 0;
    }
    case object_kind::object: {
      const auto* o = static_cast<const js_object*>(v);
      return o->properties.is_reference() ? o->property_count + 1 : 0;
    }
    case object_kind::context: return static_cast<const context_object*>(v)->slot_count + 1;
    case object_kind::closure:
    case object_kind::weak_ref:
    case object_kind::weak_map:
    case object_kind::finalization_registry: return 1;
    case object_kind::fixed_array:
    case object_kind::ephemeron_table: return static_cast<const fixed_array_object*>(v)->capacity;
    case object_kind::registry_cells:
      return static_cast<const fixed_array_object*>(v)->used * static_cast<std::uint32_t>(registry_cell_slots);
    default: return 0;
  }
}

// The edge at `position` of the object seen as `v` (its state when the snapshot began), as
// heap::for_each_reference reports it; false when that position holds no node.
bool heap_snapshot_writer::edge_at(const heap_object* v, std::uint32_t position, edge& e) const noexcept {
  auto set = [&](std::uint8_t type, std::string_view name, value target) {
    if (!target.is_reference() || ordinal(target.as_object()) == no_node) return false;
    e = edge{type, false, name_kind::text, position, name, target.as_object(), nullptr};
    return true;
  };
  auto set_numeric = [&](std::uint8_t type, std::uint32_t index, value target) {
    if (!set(type, {}, target)) return false;
    e.numeric = true;
    e.index = index;
    return true;
  };
  auto store_of = [&](value s) { return static_cast<const fixed_array_object*>(view(s.as_object())); };
  switch (v->kind()) {
    case object_kind::array: {
      const auto* a = static_cast<const array_object*>(v);
      if (position < a->length) return set_numeric(edge_element, position, store_of(a->elements)->slots()[position]);
      return set(edge_internal, "elements", a->elements);
    }
    case object_kind::object: {
      const auto* o = static_cast<const js_object*>(v);
      if (position < o->property_count) {
        const value* pair = store_of(o->properties)->slots() + std::size_t{2} * position;
        return set(edge_property, pair[0].as<string_object>()->view(), pair[1]);
      }
      return set(edge_internal, "properties", o->properties);
    }
    case object_kind::closure: return set(edge_context, "context", static_cast<const closure_object*>(v)->context);
    case object_kind::context: {
      const auto* c = static_cast<const context_object*>(v);
      if (position == 0) return set(edge_internal, "previous", c->parent);
      if (!set(edge_context, {}, c->slots()[position - 1])) return false;
      e.kind = name_kind::context_slot;
      e.index = position - 1;
      return true;
    }
    case object_kind::weak_ref: return set(edge_weak, "target", static_cast<const weak_ref_object*>(v)->target);
    case object_kind::weak_map: return set(edge_internal, "table", static_cast<const weak_map_object*>(v)->table);
    case object_kind::finalization_registry:
      return set(edge_internal, "cells", static_cast<const finalization_registry_object*>(v)->cells);
    case object_kind::fixed_array:
      return set_numeric(edge_hidden, position, static_cast<const fixed_array_object*>(v)->slots()[position]);
    case object_kind::ephemeron_table: {
      const value* slots = static_cast<const fixed_array_object*>(v)->slots();
      if (position % 2 == 0) return set(edge_weak, "key", slots[position]);
      return slots[position - 1].is_reference() && set(edge_weak, "value", slots[position]);
    }
    case object_kind::registry_cells: {
      const value slot = static_cast<const fixed_array_object*>(v)->slots()[position];
      switch (position % registry_cell_slots) {
        case 0: return set(edge_weak, "target", slot);
        case 1: return set_numeric(edge_hidden, position, slot);
        default: return set(edge_weak, "unregister_token", slot);
      }
    }
    default: return false;
  }
}

std::size_t heap_snapshot_writer::entries_of(std::uint32_t key_ordinal, std::size_t& from) const noexcept {
  while (from < entries_.size() && entries_[from].key < key_ordinal) ++from;
  std::size_t n = 0;
  while (from + n < entries_.size() && entries_[from + n].key == key_ordinal) ++n;
  return n;
}

std::uint32_t heap_snapshot_writer::edge_count_of(const heap_object* object, std::size_t& entry_from) const noexcept {
  const heap_object* v = view(object);
  const std::uint32_t positions = position_count(v);
  std::uint32_t n = 0;
  edge e;
  for (std::uint32_t p = 0; p < positions; ++p) n += edge_at(v, p, e) ? 1 : 0;
  return n + static_cast<std::uint32_t>(entries_of(ordinal(object), entry_from));
}

std::string heap_snapshot_writer::edge_name(const edge& e) const {
  switch (e.kind) {
    case name_kind::text: return std::string(e.name);
    case name_kind::context_slot: return std::to_string(e.index);
    case name_kind::ephemeron_pair: break;
  }
  // V8's name for the internal edge from a WeakMap key to its value.
  // e.target is the key here.
  const ephemeron_entry& x = *e.entry;
  return std::to_string(x.slot) + " / part of key (" + std::string(class_name(e.target)) + " @" +
         std::to_string(e.target->id()) + ") -> value (" + std::string(class_name(x.value)) + " @" +
         std::to_string(x.value->id()) + ") pair in WeakMap (table @" + std::to_string(x.table_id) + ")";
}

}  // namespace nodus::runtime::heap
