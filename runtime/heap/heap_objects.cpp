// The object API of heap: allocation of each kind, arrays, properties, contexts, weak
// containers. Every store of a reference goes through heap::write (the write barrier).
#include <algorithm>
#include <bit>
#include <cstring>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

namespace {

constexpr std::size_t max_slots = std::size_t{1} << 26;  // 512 MiB of slots: beyond is an error

std::size_t slot_offset(const heap_object* owner, const value* slot) noexcept {
  return static_cast<std::size_t>(reinterpret_cast<const std::byte*>(slot) - owner->address());
}

std::size_t hash_id(std::uint64_t id) noexcept { return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> 17); }

}  // namespace

result<fixed_array_object*> heap::new_store(object_kind kind, std::size_t capacity) {
  if (capacity > max_slots) return make_error_code(heap_errc::invalid_argument);
  heap_object* raw = allocate(kind, fixed_array_object::size_for(capacity));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* store = static_cast<fixed_array_object*>(raw);
  store->capacity = static_cast<std::uint32_t>(capacity);
  store->used = store->deleted = store->reserved = 0;
  const value fill = kind == object_kind::ephemeron_table ? value::hole() : value::undefined();
  std::fill_n(store->slots(), capacity, fill);
  return store;
}

result<fixed_array_object*> heap::grow_store(local<> owner, std::size_t offset, object_kind kind,
                                             std::size_t min_capacity) {
  auto slot = [&] { return reinterpret_cast<value*>(owner->address() + offset); };
  const value old_value = *slot();
  const std::size_t old_capacity = old_value.is_reference() ? old_value.as<fixed_array_object>()->capacity : 0;
  const std::size_t capacity = std::max({min_capacity, old_capacity * 2, std::size_t{4}});
  auto fresh = new_store(kind, capacity);  // may trigger GC: re-read the old store below
  if (!fresh) return fresh.error();
  fixed_array_object* store = *fresh;
  const value current = *slot();
  if (current.is_reference()) {
    auto* old_store = current.as<fixed_array_object>();
    std::copy_n(old_store->slots(), old_store->capacity, store->slots());
    store->used = old_store->used;
    // A dead store must not keep young objects alive through its remembered slots.
    note_mutation(old_store);
    std::fill_n(old_store->slots(), old_store->capacity, value::undefined());
    if (!is_young(value::reference(store))) {
      for (std::uint32_t i = 0; i < store->capacity; ++i) {
        const value v = store->slots()[i];
        if (v.is_reference() && is_young(v)) record_slot(store, &store->slots()[i]);
      }
    }
  }
  write(owner.raw(), slot(), value::reference(store));
  return store;
}

// --- allocation -----------------------------------------------------------------------------

result<local<string_object>> heap::new_string(std::string_view text) {
  return make_local<string_object>(new_string_raw(text));
}

result<local<byte_array_object>> heap::new_byte_array(std::span<const std::byte> bytes) {
  auto b = new_byte_array(bytes.size());
  if (b && !bytes.empty()) std::memcpy((*b)->bytes().data(), bytes.data(), bytes.size());
  return b;
}

result<local<array_object>> heap::new_array(std::size_t capacity) {
  escapable_handle_scope scope(*this);
  heap_object* raw = allocate(object_kind::array, sizeof(array_object));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* a = static_cast<array_object*>(raw);
  a->length = 0;
  a->reserved = 0;
  a->elements = value::undefined();
  local<array_object> result = scope.make<array_object>(value::reference(a));
  if (capacity > 0) {
    auto grown = grow_store(result, slot_offset(a, &a->elements), object_kind::fixed_array, capacity);
    if (!grown) return grown.error();
  }
  return scope.escape(result);
}

result<local<js_object>> heap::new_object(std::size_t capacity) {
  escapable_handle_scope scope(*this);
  heap_object* raw = allocate(object_kind::object, sizeof(js_object));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* o = static_cast<js_object*>(raw);
  o->property_count = 0;
  o->reserved = 0;
  o->properties = value::undefined();
  local<js_object> result = scope.make<js_object>(value::reference(o));
  if (capacity > 0) {
    auto grown = grow_store(result, slot_offset(o, &o->properties), object_kind::fixed_array, capacity * 2);
    if (!grown) return grown.error();
  }
  return scope.escape(result);
}

result<local<context_object>> heap::new_context(value parent, std::uint32_t slot_count) {
  if (!parent.is_null() && !(parent.is_reference() && parent.as_object()->kind() == object_kind::context)) {
    return make_error_code(heap_errc::invalid_argument);
  }
  if (slot_count > max_slots) return make_error_code(heap_errc::invalid_argument);
  escapable_handle_scope scope(*this);
  local<> p = scope.make(parent);
  heap_object* raw = allocate(object_kind::context, context_object::size_for(slot_count));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* c = static_cast<context_object*>(raw);
  c->slot_count = slot_count;
  c->reserved = 0;
  std::fill_n(c->slots(), slot_count, value::undefined());
  c->parent = value::null();
  write(c, &c->parent, p.get());
  return scope.escape(scope.make<context_object>(value::reference(c)));
}

result<local<closure_object>> heap::new_closure(std::uint64_t function_id, value context) {
  if (!context.is_null() && !(context.is_reference() && context.as_object()->kind() == object_kind::context)) {
    return make_error_code(heap_errc::invalid_argument);
  }
  escapable_handle_scope scope(*this);
  local<> ctx = scope.make(context);
  heap_object* raw = allocate(object_kind::closure, sizeof(closure_object));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* f = static_cast<closure_object*>(raw);
  f->function_id = function_id;
  f->context = value::null();
  write(f, &f->context, ctx.get());
  return scope.escape(scope.make<closure_object>(value::reference(f)));
}

result<local<weak_ref_object>> heap::new_weak_ref(value target) {
  if (!target.is_reference()) return make_error_code(heap_errc::invalid_argument);
  escapable_handle_scope scope(*this);
  local<> t = scope.make(target);
  heap_object* raw = allocate(object_kind::weak_ref, sizeof(weak_ref_object));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* r = static_cast<weak_ref_object*>(raw);
  r->target = value::undefined();
  write(r, &r->target, t.get());
  keep_alive(t.get());  // after the allocation: the target is kept from now on
  return scope.escape(scope.make<weak_ref_object>(value::reference(r)));
}

result<local<weak_map_object>> heap::new_weak_map() {
  escapable_handle_scope scope(*this);
  heap_object* raw = allocate(object_kind::weak_map, sizeof(weak_map_object));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* m = static_cast<weak_map_object*>(raw);
  m->table = value::undefined();
  local<weak_map_object> map = scope.make<weak_map_object>(value::reference(m));
  auto table = new_store(object_kind::ephemeron_table, 16);
  if (!table) return table.error();
  write(map.raw(), &map->table, value::reference(*table));
  return scope.escape(map);
}

result<local<finalization_registry_object>> heap::new_finalization_registry(cleanup_callback cleanup) {
  escapable_handle_scope scope(*this);
  heap_object* raw = allocate(object_kind::finalization_registry, sizeof(finalization_registry_object));
  if (raw == nullptr) return make_error_code(heap_errc::out_of_memory);
  auto* r = static_cast<finalization_registry_object*>(raw);
  r->callback_index = 0;
  r->reserved = 0;
  r->cells = value::undefined();
  local<finalization_registry_object> registry = scope.make<finalization_registry_object>(value::reference(r));
  auto cells = new_store(object_kind::registry_cells, 4 * registry_cell_slots);
  if (!cells) return cells.error();
  write(registry.raw(), &registry->cells, value::reference(*cells));
  std::uint32_t index;
  if (!free_callback_slots_.empty()) {
    index = free_callback_slots_.back();
    free_callback_slots_.pop_back();
    cleanup_callbacks_[index] = std::move(cleanup);
  } else {
    index = static_cast<std::uint32_t>(cleanup_callbacks_.size());
    cleanup_callbacks_.push_back(std::move(cleanup));
  }
  registry->callback_index = index;
  return scope.escape(registry);
}

// --- arrays -----------------------------------------------------------------------------------

std::uint32_t heap::array_length(local<array_object> a) const noexcept { return a->length; }

value heap::array_get(local<array_object> a, std::uint32_t index) const noexcept {
  if (index >= a->length) return value::undefined();
  return a->elements.as<fixed_array_object>()->slots()[index];
}

result<void> heap::array_set(local<array_object> a, std::uint32_t index, value v) {
  if (index >= max_slots) return make_error_code(heap_errc::invalid_argument);
  handle_scope scope(*this);
  local<> held = scope.make(v);
  const value elements = a->elements;
  if (!elements.is_reference() || index >= elements.as<fixed_array_object>()->capacity) {
    auto grown = grow_store(a, slot_offset(a.raw(), &a->elements), object_kind::fixed_array, std::size_t{index} + 1);
    if (!grown) return grown.error();
  }
  auto* store = a->elements.as<fixed_array_object>();
  write(store, &store->slots()[index], held.get());
  if (index >= a->length) {
    note_mutation(a.raw());
    a->length = index + 1;
  }
  return {};
}

result<void> heap::array_push(local<array_object> a, value v) { return array_set(a, a->length, v); }

// --- objects ------------------------------------------------------------------------------------

std::int64_t heap::find_property(const js_object* o, std::string_view key) const noexcept {
  if (!o->properties.is_reference()) return -1;
  const value* slots = o->properties.as<fixed_array_object>()->slots();
  for (std::uint32_t i = 0; i < o->property_count; ++i) {
    if (slots[2 * i].as<string_object>()->view() == key) return i;
  }
  return -1;
}

std::optional<value> heap::get_property(local<js_object> o, std::string_view key) const noexcept {
  const std::int64_t i = find_property(o.raw(), key);
  if (i < 0) return std::nullopt;
  return o->properties.as<fixed_array_object>()->slots()[2 * i + 1];
}

std::uint32_t heap::property_count(local<js_object> o) const noexcept { return o->property_count; }

result<void> heap::set_property(local<js_object> o, std::string_view key, value v) {
  const std::int64_t i = find_property(o.raw(), key);
  if (i >= 0) {
    auto* store = o->properties.as<fixed_array_object>();
    write(store, &store->slots()[2 * i + 1], v);
    return {};
  }
  handle_scope scope(*this);
  local<> held = scope.make(v);
  auto name = new_string(key);
  if (!name) return name.error();
  return set_property(o, *name, held.get());
}

result<void> heap::set_property(local<js_object> o, local<string_object> key, value v) {
  const std::int64_t i = find_property(o.raw(), key->view());
  if (i >= 0) {
    auto* store = o->properties.as<fixed_array_object>();
    write(store, &store->slots()[2 * i + 1], v);
    return {};
  }
  return add_property(o, key, v);
}

result<void> heap::add_property(local<js_object> o, local<string_object> key, value v) {
  handle_scope scope(*this);
  local<> held = scope.make(v);
  const std::size_t needed = (std::size_t{o->property_count} + 1) * 2;
  if (!o->properties.is_reference() || needed > o->properties.as<fixed_array_object>()->capacity) {
    auto grown = grow_store(o, slot_offset(o.raw(), &o->properties), object_kind::fixed_array, needed);
    if (!grown) return grown.error();
  }
  auto* store = o->properties.as<fixed_array_object>();
  const std::uint32_t n = o->property_count;
  write(store, &store->slots()[2 * n], key.get());
  write(store, &store->slots()[2 * n + 1], held.get());
  note_mutation(o.raw());
  o->property_count = n + 1;
  return {};
}

void heap::set_property_value(local<js_object> o, std::uint32_t index, value v) noexcept {
  auto* store = o->properties.as<fixed_array_object>();
  write(store, &store->slots()[2 * std::size_t{index} + 1], v);
}

bool heap::delete_property(local<js_object> o, std::string_view key) noexcept {
  const std::int64_t found = find_property(o.raw(), key);
  if (found < 0) return false;
  auto* store = o->properties.as<fixed_array_object>();
  note_mutation(o.raw());
  note_mutation(store);
  value* slots = store->slots();
  const auto n = o->property_count;
  for (auto i = static_cast<std::uint32_t>(found); i + 1 < n; ++i) {
    write(store, &slots[2 * i], slots[2 * i + 2]);
    write(store, &slots[2 * i + 1], slots[2 * i + 3]);
  }
  slots[2 * (n - 1)] = value::undefined();
  slots[2 * (n - 1) + 1] = value::undefined();
  o->property_count = n - 1;
  return true;
}

// --- contexts -------------------------------------------------------------------------------------

value heap::context_get(local<context_object> c, std::uint32_t index) const noexcept {
  return index < c->slot_count ? c->slots()[index] : value::undefined();
}

void heap::context_set(local<context_object> c, std::uint32_t index, value v) noexcept {
  if (index < c->slot_count) write(c.raw(), &c->slots()[index], v);
}

// --- weak references ------------------------------------------------------------------------------

void heap::keep_alive(value target) {
  if (!kept_.empty() && kept_.back() == target) return;
  kept_.push_back(target);
}

void heap::clear_kept_objects() noexcept { kept_.clear(); }

value heap::weak_ref_deref(local<weak_ref_object> r) {
  const value target = r->target;
  if (target.is_reference()) keep_alive(target);
  return target;
}

std::int64_t heap::find_entry(const fixed_array_object* table, value key) const noexcept {
  const std::size_t entries = table->capacity / 2;
  const std::size_t mask = entries - 1;
  std::size_t i = hash_id(key.as_object()->id()) & mask;
  for (std::size_t probes = 0; probes < entries; ++probes, i = (i + 1) & mask) {
    const value k = table->slots()[2 * i];
    if (k.is_hole()) return -1;
    if (k == key) return static_cast<std::int64_t>(i);
  }
  return -1;
}

std::optional<value> heap::weak_map_get(local<weak_map_object> m, value key) const noexcept {
  if (!key.is_reference()) return std::nullopt;
  const auto* table = m->table.as<fixed_array_object>();
  const std::int64_t i = find_entry(table, key);
  if (i < 0) return std::nullopt;
  return table->slots()[2 * i + 1];
}

bool heap::weak_map_has(local<weak_map_object> m, value key) const noexcept {
  return weak_map_get(m, key).has_value();
}

std::uint32_t heap::weak_map_size(local<weak_map_object> m) const noexcept {
  return m->table.as<fixed_array_object>()->used;
}

result<void> heap::rehash(local<weak_map_object> m, std::size_t entries) {
  auto fresh = new_store(object_kind::ephemeron_table, entries * 2);  // may trigger GC
  if (!fresh) return fresh.error();
  fixed_array_object* table = *fresh;
  auto* old_table = m->table.as<fixed_array_object>();
  const std::size_t mask = entries - 1;
  for (std::uint32_t e = 0; e < old_table->capacity / 2; ++e) {
    const value key = old_table->slots()[2 * e];
    if (!key.is_reference()) continue;
    std::size_t i = hash_id(key.as_object()->id()) & mask;
    while (!table->slots()[2 * i].is_hole()) i = (i + 1) & mask;
    write(table, &table->slots()[2 * i], key);
    write(table, &table->slots()[2 * i + 1], old_table->slots()[2 * e + 1]);
    ++table->used;
  }
  note_mutation(old_table);
  std::fill_n(old_table->slots(), old_table->capacity, value::hole());
  old_table->used = old_table->deleted = 0;
  write(m.raw(), &m->table, value::reference(table));
  return {};
}

result<void> heap::weak_map_set(local<weak_map_object> m, value key, value v) {
  if (!key.is_reference()) return make_error_code(heap_errc::invalid_argument);
  if (const std::int64_t i = find_entry(m->table.as<fixed_array_object>(), key); i >= 0) {
    auto* table = m->table.as<fixed_array_object>();
    write(table, &table->slots()[2 * i + 1], v);
    return {};
  }
  handle_scope scope(*this);
  local<> k = scope.make(key);
  local<> held = scope.make(v);
  {
    const auto* table = m->table.as<fixed_array_object>();
    const std::size_t entries = table->capacity / 2;
    if ((std::size_t{table->used} + table->deleted + 1) * 4 > entries * 3) {
      // Grow when live entries need it, otherwise rebuild at the same size to drop tombstones.
      const std::size_t wanted = (std::size_t{table->used} + 1) * 2 > entries ? entries * 2 : entries;
      if (auto r = rehash(m, std::bit_ceil(wanted)); !r) return r;
    }
  }
  auto* table = m->table.as<fixed_array_object>();
  const std::size_t mask = table->capacity / 2 - 1;
  std::size_t i = hash_id(k.raw()->id()) & mask;
  while (table->slots()[2 * i].is_reference()) i = (i + 1) & mask;
  if (table->slots()[2 * i].is_deleted()) --table->deleted;
  write(table, &table->slots()[2 * i], k.get());
  write(table, &table->slots()[2 * i + 1], held.get());
  ++table->used;
  return {};
}

bool heap::weak_map_delete(local<weak_map_object> m, value key) noexcept {
  if (!key.is_reference()) return false;
  auto* table = m->table.as<fixed_array_object>();
  const std::int64_t i = find_entry(table, key);
  if (i < 0) return false;
  note_mutation(table);
  table->slots()[2 * i] = value::deleted();
  table->slots()[2 * i + 1] = value::undefined();
  --table->used;
  ++table->deleted;
  return true;
}

result<void> heap::finalization_register(local<finalization_registry_object> r, value target, value held,
                                         value token) {
  if (!target.is_reference() || target == held) return make_error_code(heap_errc::invalid_argument);
  if (!token.is_undefined() && !token.is_reference()) return make_error_code(heap_errc::invalid_argument);
  handle_scope scope(*this);
  local<> t = scope.make(target);
  local<> h = scope.make(held);
  local<> k = scope.make(token);
  const auto* cells = r->cells.as<fixed_array_object>();
  const std::size_t needed = (std::size_t{cells->used} + 1) * registry_cell_slots;
  if (needed > cells->capacity) {
    auto grown = grow_store(r, slot_offset(r.raw(), &r->cells), object_kind::registry_cells, needed);
    if (!grown) return grown.error();
  }
  auto* store = r->cells.as<fixed_array_object>();
  value* cell = store->slots() + std::size_t{store->used} * registry_cell_slots;
  write(store, &cell[0], t.get());
  write(store, &cell[1], h.get());
  write(store, &cell[2], k.get());
  ++store->used;
  return {};
}

bool heap::finalization_unregister(local<finalization_registry_object> r, value token) noexcept {
  if (!token.is_reference()) return false;
  bool removed = false;
  auto* store = r->cells.as<fixed_array_object>();
  note_mutation(store);
  value* slots = store->slots();
  for (std::uint32_t i = 0; i < store->used;) {
    value* cell = slots + std::size_t{i} * registry_cell_slots;
    if (!(cell[2] == token)) {
      ++i;
      continue;
    }
    value* last = slots + std::size_t{store->used - 1} * registry_cell_slots;
    for (std::size_t k = 0; k < registry_cell_slots; ++k) {
      write(store, &cell[k], last[k]);
      last[k] = value::undefined();
    }
    --store->used;
    removed = true;
  }
  // Cells whose target is already collected but whose cleanup has not run yet go too.
  const value self = r.get();
  for (std::size_t i = 0; i < pending_cleanups_.size();) {
    if (pending_cleanups_[i] == self && pending_cleanups_[i + 2] == token) {
      pending_cleanups_.erase(pending_cleanups_.begin() + static_cast<std::ptrdiff_t>(i),
                              pending_cleanups_.begin() + static_cast<std::ptrdiff_t>(i + 3));
      removed = true;
    } else {
      i += 3;
    }
  }
  return removed;
}

}  // namespace nodus::runtime::heap
