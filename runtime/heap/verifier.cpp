#include "runtime/heap/verifier.hpp"

#include <spdlog/fmt/fmt.h>

#include <unordered_map>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

namespace {

bool valid_kind(object_kind k) noexcept { return static_cast<std::size_t>(k) < object_kind_count; }

// The kind a slot of `host` may reference, when constrained.
bool slot_kind_ok(const heap_object* host, const value* slot, object_kind target) {
  switch (host->kind()) {
    case object_kind::array:
    case object_kind::object:
      return target == object_kind::fixed_array;
    case object_kind::weak_map:
      return target == object_kind::ephemeron_table;
    case object_kind::finalization_registry:
      return target == object_kind::registry_cells;
    case object_kind::closure:
      return target == object_kind::context;
    case object_kind::context:
      return slot != &static_cast<const context_object*>(host)->parent || target == object_kind::context;
    default:
      return !is_backing_store(target);
  }
}

}  // namespace

std::vector<std::string> verifier::run() {
  std::vector<std::string> findings;
  auto fail = [&](std::string s) {
    if (findings.size() < 100) findings.push_back(std::move(s));
  };
  // Pass 1: collect every object start, checking tiling and headers.
  std::unordered_map<const heap_object*, bool> objects;  // -> is old generation
  auto check_header = [&](const heap_object* o, std::string_view where) {
    if (o->size_bytes() < header_size || o->size_bytes() % object_alignment != 0 || !valid_kind(o->kind())) {
      fail(fmt::format("{}: malformed header at {}", where, static_cast<const void*>(o)));
      return false;
    }
    if ((o->header.gc_bits & (gc_bit::marked | gc_bit::forwarded)) != 0) {
      fail(fmt::format("{}: object {} has GC bits {} outside GC", where, o->id(), o->header.gc_bits));
    }
    if (o->id() % 2 == 0 || o->id() < heap::first_object_id) fail(fmt::format("{}: bad id {}", where, o->id()));
    return true;
  };
  {
    std::byte* p = heap_.new_space_.active_start();
    std::byte* end = heap_.new_space_.top();
    while (p < end) {
      auto* o = reinterpret_cast<heap_object*>(p);
      if (!check_header(o, "new_space") || is_filler(o->kind())) {
        fail("new_space: filler or malformed object");
        return findings;
      }
      objects.emplace(o, false);
      p += o->size_bytes();
    }
    if (p != end) fail("new_space: objects overrun top");
  }
  heap_.old_.retire_lab();
  for (memory_chunk* page : heap_.old_.pages()) {
    std::byte* p = page->area_start();
    while (p < page->area_end()) {
      auto* o = reinterpret_cast<heap_object*>(p);
      const std::size_t size = o->size_bytes();
      if (!valid_kind(o->kind()) || size < 8 || size % object_alignment != 0) {
        fail(fmt::format("old_space: malformed header at {}", static_cast<const void*>(o)));
        return findings;
      }
      if (!is_filler(o->kind()) && check_header(o, "old_space")) objects.emplace(o, true);
      p += size;
    }
    if (p != page->area_end()) fail("old_space: page not exactly tiled");
  }
  for (memory_chunk* chunk : heap_.large_.chunks()) {
    heap_object* o = large_object_space::object_in(chunk);
    if (check_header(o, "large_object_space")) objects.emplace(o, true);
  }

  // Pass 2: references.
  auto check_ref = [&](value v, std::string_view where, std::uint64_t host_id) -> const heap_object* {
    if (!v.is_reference()) return nullptr;
    const heap_object* target = v.as_object();
    if (heap_.new_space_.to_space().contains(target)) {
      fail(fmt::format("{} (host {}): reference into from-space", where, host_id));
      return nullptr;
    }
    if (!objects.contains(target)) {
      fail(fmt::format("{} (host {}): reference to {} is not a live object", where, host_id,
                       static_cast<const void*>(target)));
      return nullptr;
    }
    return target;
  };
  for (const auto& [object, old] : objects) {
    auto* host = const_cast<heap_object*>(object);
    for_each_slot(host, [&](value* slot) {
      const heap_object* target = check_ref(*slot, kind_name(host->kind()), host->id());
      if (target == nullptr) return;
      if (!slot_kind_ok(host, slot, target->kind())) {
        fail(fmt::format("{} {} references a {}", kind_name(host->kind()), host->id(), kind_name(target->kind())));
      }
      if (old && !objects.at(target)) {
        memory_chunk* chunk = memory_chunk::of(host);
        const auto offset = static_cast<std::size_t>(reinterpret_cast<std::byte*>(slot) - chunk->base());
        if (!chunk->remembered().contains(offset)) {
          fail(fmt::format("old {} {} → young {}: slot not in the remembered set", kind_name(host->kind()),
                           host->id(), target->id()));
        }
      }
    });
  }
  heap_.visit_roots([&](value* slot, root_category c) {
    const heap_object* target = check_ref(*slot, root_category_name(c), 0);
    if (target != nullptr && is_backing_store(target->kind()) && c != root_category::handle_scope) {
      fail(fmt::format("{} holds a backing store", root_category_name(c)));
    }
  });
  return findings;
}

}  // namespace nodus::runtime::heap
