#pragma once
// Heap object layouts. Every object starts with a 16-byte header (size, kind, GC bits, stable
// id); sizes are multiples of 8. Layouts are plain structs over raw heap memory: a pointer to
// one is valid only until the next call that may trigger GC.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "runtime/heap/value.hpp"

namespace nodus::runtime::heap {

enum class object_kind : std::uint8_t {
  // Fillers: free memory in old-space pages (never visible through the public API).
  free_space,
  one_word_filler,
  // Visible objects.
  string,
  byte_array,
  array,
  object,
  closure,
  context,
  weak_ref,
  weak_map,
  finalization_registry,
  // Backing stores, owned by exactly one object above (shown as "hidden" in snapshots).
  fixed_array,      // elements of an array, properties of an object
  ephemeron_table,  // entries of a weak_map
  registry_cells,   // cells of a finalization_registry
};
inline constexpr std::size_t object_kind_count = 14;

std::string_view kind_name(object_kind kind) noexcept;
constexpr bool is_filler(object_kind k) noexcept {
  return k == object_kind::free_space || k == object_kind::one_word_filler;
}
// Backing stores follow their owner's generation (promoted with it) and are never roots.
constexpr bool is_backing_store(object_kind k) noexcept {
  return k == object_kind::fixed_array || k == object_kind::ephemeron_table ||
         k == object_kind::registry_cells;
}

namespace gc_bit {
inline constexpr std::uint8_t marked = 1;     // live in the current major GC
inline constexpr std::uint8_t survived = 2;   // survived one scavenge (promoted on the next)
inline constexpr std::uint8_t forwarded = 4;  // moved: id_or_forward is the new address
}  // namespace gc_bit

inline constexpr std::size_t object_alignment = 8;
inline constexpr std::size_t header_size = 16;

struct object_header {
  std::uint32_t size_bytes;
  object_kind kind;
  std::uint8_t gc_bits;
  std::uint16_t flags;
  std::uint64_t id_or_forward;  // stable id (odd, as V8 snapshot ids); free_space: next block
};
static_assert(sizeof(object_header) == header_size);

struct heap_object {
  object_header header;

  object_kind kind() const noexcept { return header.kind; }
  std::size_t size_bytes() const noexcept { return header.size_bytes; }
  std::uint64_t id() const noexcept { return header.id_or_forward; }
  bool is_forwarded() const noexcept { return (header.gc_bits & gc_bit::forwarded) != 0; }
  heap_object* forwarding_address() const noexcept {
    return reinterpret_cast<heap_object*>(static_cast<std::uintptr_t>(header.id_or_forward));
  }
  bool is_marked() const noexcept { return (header.gc_bits & gc_bit::marked) != 0; }
  std::byte* address() noexcept { return reinterpret_cast<std::byte*>(this); }
  const std::byte* address() const noexcept { return reinterpret_cast<const std::byte*>(this); }
};

constexpr std::size_t round_up(std::size_t n, std::size_t to = object_alignment) noexcept {
  return (n + to - 1) & ~(to - 1);
}

struct string_object : heap_object {
  std::uint64_t length;
  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(this + 1), static_cast<std::size_t>(length)};
  }
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  static std::size_t size_for(std::size_t length) noexcept {
    return round_up(sizeof(string_object) + length);
  }
};

struct byte_array_object : heap_object {
  std::uint64_t length;
  std::span<std::byte> bytes() noexcept { return {reinterpret_cast<std::byte*>(this + 1), length}; }
  std::span<const std::byte> bytes() const noexcept {
    return {reinterpret_cast<const std::byte*>(this + 1), length};
  }
  static std::size_t size_for(std::size_t length) noexcept {
    return round_up(sizeof(byte_array_object) + length);
  }
};

// fixed_array, ephemeron_table and registry_cells share this layout: a count of value slots.
struct fixed_array_object : heap_object {
  std::uint32_t capacity;  // in slots
  std::uint32_t used;      // ephemeron_table: live entries; registry_cells: live cells
  std::uint32_t deleted;   // ephemeron_table: tombstones
  std::uint32_t reserved;
  value* slots() noexcept { return reinterpret_cast<value*>(this + 1); }
  const value* slots() const noexcept { return reinterpret_cast<const value*>(this + 1); }
  static std::size_t size_for(std::size_t slot_count) noexcept {
    return sizeof(fixed_array_object) + slot_count * sizeof(value);
  }
};

struct array_object : heap_object {
  std::uint32_t length;
  std::uint32_t reserved;
  value elements;  // fixed_array or undefined
};

// Properties are (key string, value) pairs in insertion order in a fixed_array.
struct js_object : heap_object {
  std::uint32_t property_count;
  std::uint32_t reserved;
  value properties;  // fixed_array or undefined
};

struct context_object : heap_object {
  std::uint32_t slot_count;
  std::uint32_t reserved;
  value parent;  // context or null
  value* slots() noexcept { return reinterpret_cast<value*>(this + 1); }
  const value* slots() const noexcept { return reinterpret_cast<const value*>(this + 1); }
  static std::size_t size_for(std::size_t slot_count) noexcept {
    return sizeof(context_object) + slot_count * sizeof(value);
  }
};

struct closure_object : heap_object {
  std::uint64_t function_id;
  value context;  // context or null
};

struct weak_ref_object : heap_object {
  value target;  // weak; undefined once cleared
};

// Entries are (key, value) pairs hashed by the key's stable id, so moves never rehash.
struct weak_map_object : heap_object {
  value table;  // ephemeron_table
};

// Cells are (target weak, held strong, unregister token weak) triples.
struct finalization_registry_object : heap_object {
  std::uint32_t callback_index;
  std::uint32_t reserved;
  value cells;  // registry_cells
};

inline constexpr std::size_t registry_cell_slots = 3;

// Calls fn(value* slot) for every value slot of `object`, weak ones included.
// Must not allocate: used by the collectors and the verifier.
template <class Fn>
void for_each_slot(heap_object* object, Fn&& fn) {
  switch (object->kind()) {
    case object_kind::array:
      fn(&static_cast<array_object*>(object)->elements);
      return;
    case object_kind::object:
      fn(&static_cast<js_object*>(object)->properties);
      return;
    case object_kind::closure:
      fn(&static_cast<closure_object*>(object)->context);
      return;
    case object_kind::context: {
      auto* c = static_cast<context_object*>(object);
      fn(&c->parent);
      for (std::uint32_t i = 0; i < c->slot_count; ++i) fn(&c->slots()[i]);
      return;
    }
    case object_kind::weak_ref:
      fn(&static_cast<weak_ref_object*>(object)->target);
      return;
    case object_kind::weak_map:
      fn(&static_cast<weak_map_object*>(object)->table);
      return;
    case object_kind::finalization_registry:
      fn(&static_cast<finalization_registry_object*>(object)->cells);
      return;
    case object_kind::fixed_array:
    case object_kind::ephemeron_table:
    case object_kind::registry_cells: {
      auto* a = static_cast<fixed_array_object*>(object);
      for (std::uint32_t i = 0; i < a->capacity; ++i) fn(&a->slots()[i]);
      return;
    }
    case object_kind::free_space:
    case object_kind::one_word_filler:
    case object_kind::string:
    case object_kind::byte_array:
      return;
  }
}

}  // namespace nodus::runtime::heap
