// heap_snapshot_writer: construction (GC, index, counts), copy-on-write, the name table.
// The object model is in heap_snapshot_model.cpp, the JSON output in heap_snapshot_json.cpp.
#include "runtime/heap/heap_snapshot.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "runtime/heap/heap_snapshot_format.hpp"

namespace nodus::runtime::heap {

using namespace snapshot_format;

// --- construction ---------------------------------------------------------------------------------

heap_snapshot_writer::heap_snapshot_writer(heap& h, snapshot_options options)
    : heap_(h), options_(std::move(options)) {
  if (options_.collect_garbage_first && !heap_.gc_deferred()) heap_.collect_garbage(gc_kind::major);
  heap_.defer_gc();
  heap_.add_mutation_observer(this);
  open_ = true;
  try {
    for (std::string_view name : fixed_names) intern(name, true);
    build_index();
    count_and_intern();
  } catch (...) {
    close();
    throw;
  }
}

heap_snapshot_writer::~heap_snapshot_writer() { close(); }

void heap_snapshot_writer::close() noexcept {
  if (!open_) return;
  open_ = false;
  heap_.remove_mutation_observer(this);
  try {
    heap_.resume_gc();
  } catch (...) {  // a deferred GC that cannot allocate its worklist: the next trigger retries
  }
}

void heap_snapshot_writer::build_index() {
  const std::size_t young_bytes = heap_.young_used_bytes();
  const std::size_t page_bit_words = (page_size / object_alignment + 63) / 64;
  bits_.reserve((young_bytes / object_alignment + 63) / 64 + heap_.old_space_page_count() * page_bit_words);
  std::uint32_t next = synthetic_nodes;
  const memory_chunk* current = nullptr;
  auto add_region = [&](const std::byte* base, std::size_t words) {
    regions_.push_back(region{base, words, bits_.size(), next});
    bits_.resize(bits_.size() + (words + 63) / 64);
  };
  heap_.for_each_object([&](heap_object* o) {
    const std::byte* p = o->address();
    if (heap_.is_young(value::reference(o))) {
      if (young_start_ == nullptr) {
        young_start_ = p;  // new space is one run of objects from its start
        young_end_ = p + young_bytes;
        add_region(p, young_bytes / object_alignment);
      }
    } else if (memory_chunk* chunk = memory_chunk::of(o); chunk != current) {
      current = chunk;
      if (chunk->owner() == chunk_owner::large_object_space) {
        add_region(p, 0);
      } else {
        add_region(chunk->area_start(), chunk->area_bytes() / object_alignment);
      }
      chunk_regions_.emplace_back(chunk->base(), static_cast<std::uint32_t>(regions_.size() - 1));
    }
    const region& r = regions_.back();
    if (r.words > 0) {
      const std::size_t w = static_cast<std::size_t>(p - r.base) / object_alignment;
      bits_[r.bit_word + w / 64] |= std::uint64_t{1} << (w % 64);
    }
    if (++next == no_node) throw std::length_error("heap snapshot: too many objects");
    total_self_size_ += o->size_bytes();
  });
  node_count_ = next;
  prefix_.resize(bits_.size());
  for (const region& r : regions_) {
    std::uint32_t running = 0;
    for (std::size_t i = r.bit_word; i < r.bit_word + (r.words + 63) / 64; ++i) {
      prefix_[i] = running;
      running += static_cast<std::uint32_t>(std::popcount(bits_[i]));
    }
  }
  std::sort(chunk_regions_.begin(), chunk_regions_.end());
}

void heap_snapshot_writer::count_and_intern() {
  heap_.for_each_root([&](root_category c, value v) {
    const std::uint32_t o = ordinal(v.as_object());
    if (o != no_node) roots_[static_cast<std::size_t>(c)].push_back(o);
  });
  edge_count_ = 1 + std::size(categories);
  for (const auto& r : roots_) edge_count_ += r.size();

  cursor c;
  while (const heap_object* o = next_object(c)) {
    if (o->kind() == object_kind::closure) intern(node_name(o), false);  // else: walk order
    const heap_object* v = view(o);
    const std::uint32_t positions = position_count(v);
    for (std::uint32_t p = 0; p < positions; ++p) {
      edge e;
      if (!edge_at(v, p, e)) continue;
      ++edge_count_;
      if (e.numeric) continue;
      const bool interned = e.kind == name_kind::text ? intern(e.name, true) : intern(edge_name(e), false);
      if (!interned) dynamic_edge_names_ = true;
    }
    if (o->kind() == object_kind::ephemeron_table) {
      const auto* table = static_cast<const fixed_array_object*>(v);
      for (std::uint32_t i = 0; i + 1 < table->capacity; i += 2) {
        const value key = table->slots()[i];
        const value val = table->slots()[i + 1];
        if (!key.is_reference() || !val.is_reference()) continue;
        const std::uint32_t k = ordinal(key.as_object());
        if (k == no_node || ordinal(val.as_object()) == no_node) continue;
        entries_.push_back(ephemeron_entry{k, i, val.as_object(), o->id()});
      }
    }
  }
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const ephemeron_entry& a, const ephemeron_entry& b) { return a.key < b.key; });
  edge_count_ += entries_.size();
  if (!entries_.empty()) dynamic_edge_names_ = true;  // pair names are unique per entry
  dynamic_base_ = interned_order_.size();
}

// --- index and copy-on-write ------------------------------------------------------------------------

std::uint32_t heap_snapshot_writer::ordinal(const heap_object* object) const noexcept {
  const std::byte* p = object->address();
  const region* r;
  if (p >= young_start_ && p < young_end_) {
    r = &regions_.front();
  } else {
    const auto* base = reinterpret_cast<const std::byte*>(memory_chunk::of(p));  // a mask, no read
    const auto it = std::lower_bound(chunk_regions_.begin(), chunk_regions_.end(), base,
                                     [](const auto& entry, const std::byte* b) { return entry.first < b; });
    if (it == chunk_regions_.end() || it->first != base) return no_node;
    r = &regions_[it->second];
  }
  if (r->words == 0) return p == r->base ? r->first_ordinal : no_node;
  if (p < r->base) return no_node;
  const auto offset = static_cast<std::size_t>(p - r->base);
  const std::size_t w = offset / object_alignment;
  if (offset % object_alignment != 0 || w >= r->words) return no_node;
  const std::uint64_t bits = bits_[r->bit_word + w / 64];
  const std::uint64_t below = bits & ((std::uint64_t{1} << (w % 64)) - 1);
  if ((bits >> (w % 64) & 1) == 0) return no_node;
  return r->first_ordinal + prefix_[r->bit_word + w / 64] + static_cast<std::uint32_t>(std::popcount(below));
}

const heap_object* heap_snapshot_writer::next_object(cursor& c) const noexcept {
  while (c.region < regions_.size()) {
    const region& r = regions_[c.region];
    if (r.words == 0) {
      if (c.bit == 0) {
        c.bit = 1;
        return reinterpret_cast<const heap_object*>(r.base);
      }
    } else {
      while (c.bit < r.words) {
        const std::uint64_t word = bits_[r.bit_word + c.bit / 64] >> (c.bit % 64);
        if (word != 0) {
          c.bit += static_cast<std::size_t>(std::countr_zero(word));
          return reinterpret_cast<const heap_object*>(r.base + c.bit++ * object_alignment);
        }
        c.bit = (c.bit / 64 + 1) * 64;
      }
    }
    ++c.region;
    c.bit = 0;
  }
  return nullptr;
}

const heap_object* heap_snapshot_writer::view(const heap_object* object) const noexcept {
  if (copies_.empty()) return object;
  const auto it = copies_.find(object);
  return it == copies_.end() ? object : reinterpret_cast<const heap_object*>(it->second.get());
}

void heap_snapshot_writer::before_mutation(const heap_object* object) noexcept {
  if (!open_ || section_ == section::done || ordinal(object) == no_node) return;
  if (copies_.contains(object)) return;
  try {
    const std::size_t size = object->size_bytes();
    auto copy = std::make_unique_for_overwrite<std::byte[]>(size);
    std::memcpy(copy.get(), object, size);
    copies_.emplace(object, std::move(copy));
    copied_bytes_ += size;
  } catch (...) {
    failed_ = true;  // the edges of this object can no longer be written as they were
  }
}

snapshot_memory heap_snapshot_writer::memory() const noexcept {
  snapshot_memory m;
  m.index_bytes = bits_.capacity() * sizeof(std::uint64_t) + prefix_.capacity() * sizeof(std::uint32_t) +
                  regions_.capacity() * sizeof(region) + chunk_regions_.capacity() * sizeof(chunk_regions_[0]);
  m.copied_bytes = copied_bytes_ + copies_.size() * 48;  // + the map's nodes
  m.copied_objects = copies_.size();
  std::size_t roots = 0;
  for (const auto& r : roots_) roots += r.capacity() * sizeof(std::uint32_t);
  m.table_bytes = roots + entries_.capacity() * sizeof(ephemeron_entry) + interned_.size() * 48 +
                  interned_order_.capacity() * sizeof(std::string_view);
  for (const std::string& s : owned_names_) m.table_bytes += s.capacity() + sizeof(std::string);
  return m;
}

// --- strings --------------------------------------------------------------------------------------------

bool heap_snapshot_writer::intern(std::string_view name, bool stable) {
  if (interned_.contains(name)) return true;
  if (interned_order_.size() >= options_.max_interned_names ||
      interned_bytes_ + name.size() > options_.max_interned_bytes) {
    return false;
  }
  if (!stable) name = owned_names_.emplace_back(name);
  interned_.emplace(name, static_cast<std::uint32_t>(interned_order_.size()));
  interned_order_.push_back(name);
  interned_bytes_ += name.size();
  return true;
}

std::uint32_t heap_snapshot_writer::find_interned(std::string_view name) const noexcept {
  const auto it = interned_.find(name);
  return it == interned_.end() ? no_node : it->second;
}

std::uint64_t heap_snapshot_writer::resolve(std::string_view name) {
  const std::uint32_t i = find_interned(name);
  if (i != no_node) return i;
  return dynamic_base_ + dynamic_next_++;
}

}  // namespace nodus::runtime::heap
