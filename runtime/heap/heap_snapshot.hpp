#pragma once
// heap_snapshot_writer: a V8-format .heapsnapshot of one heap (NODE_COMPAT §5), produced piece
// by piece so that it can stream to a socket across loop turns (docs/heap.md, "Snapshots").
//
// - Construction runs a major GC (as V8 does before a snapshot), then defers GC for the
//   writer's lifetime (heap::defer_gc): no object moves or dies, so the addresses of the
//   snapshot's objects stay valid while other callbacks on the loop keep allocating.
// - Nodes are the objects that exist at construction, in heap order, after six synthetic
//   nodes (root, "(GC roots)", one per root category). An index maps an address to its node
//   ordinal: one start bit per 8-byte word of each page plus a prefix count per 64 bits.
// - Edges are those at construction: the writer observes the heap's mutations
//   (heap::mutation_observer) and copies an object before its first change, so node and
//   edge counts written first stay exact however the heap changes meanwhile. Objects
//   allocated after construction are not part of the snapshot.
// - Strings: names (class names, property keys, closure names) are interned in a bounded
//   table; string contents and names beyond the bound take indexes in walk order and are
//   written again by a second, identical walk, so no string content is held in memory.
// Extra memory: the index (~2.4% of the walked pages), the copies of mutated objects, the
// roots, the intern table and one pending chunk. Loop thread only; must die before its heap.
// Implementation: heap_snapshot.cpp (construction, index, copy-on-write, names),
// heap_snapshot_model.cpp (node and edge types), heap_snapshot_json.cpp (the output).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

struct snapshot_options {
  std::size_t chunk_bytes = 64 * 1024;  // next() returns once it appended about this much
  bool collect_garbage_first = true;    // V8 snapshots only what a full GC leaves
  // Node name of a closure; default "function <id>".
  std::function<std::string(std::uint64_t function_id)> closure_name;
  // Bounds of the name table; names beyond them are written in walk order (duplicates allowed).
  std::size_t max_interned_names = std::size_t{1} << 16;
  std::size_t max_interned_bytes = 4 * mib;
  // V8's --heap-snapshot-string-limit: a string node's name is its first 1024 bytes.
  std::size_t string_name_limit = 1024;
};

// What a writer holds besides the heap, for tests, benchmarks and logs.
struct snapshot_memory {
  std::size_t index_bytes = 0;     // start bitmaps, prefix counts, region table
  std::size_t copied_bytes = 0;    // objects copied before their first change
  std::size_t copied_objects = 0;
  std::size_t table_bytes = 0;     // roots, WeakMap entries, interned names
  std::size_t total() const noexcept { return index_bytes + copied_bytes + table_bytes; }
};

class heap_snapshot_writer final : private heap::mutation_observer {
 public:
  // Walks the heap (synchronously: GC, index, edge counts) and starts the GC deferral.
  // May trigger GC; throws std::bad_alloc if the index cannot be allocated (std::length_error
  // past 2^32 objects).
  explicit heap_snapshot_writer(heap& h, snapshot_options options = {});
  // Ends the deferral; a GC requested meanwhile runs now.
  ~heap_snapshot_writer() override;
  heap_snapshot_writer(const heap_snapshot_writer&) = delete;
  heap_snapshot_writer& operator=(const heap_snapshot_writer&) = delete;

  // Appends the next piece of the document (about chunk_bytes) to `out`; false once the
  // document is complete (the last call may still append its tail). Never allocates on the heap.
  bool next(std::string& out);
  // The whole document at once (tests and tools; not for large heaps).
  std::string write_all();
  // The document is invalid: a copy-on-write copy could not be allocated, or the written
  // counts turned out wrong (a bug). The caller aborts the response.
  bool failed() const noexcept { return failed_; }

  std::uint64_t node_count() const noexcept { return node_count_; }
  std::uint64_t edge_count() const noexcept { return edge_count_; }
  // Sum of the objects' self sizes (= the heap's used size right after construction).
  std::uint64_t total_self_size() const noexcept { return total_self_size_; }
  snapshot_memory memory() const noexcept;

  static constexpr std::uint32_t synthetic_nodes = 6;  // root, (GC roots), 4 root categories
  static constexpr std::size_t node_fields = 7;

 private:
  static constexpr std::uint32_t no_node = 0xffff'ffffU;

  // A run of node ordinals: an old-space page (or the used part of new space) with one start
  // bit per 8-byte word, or one large object (words == 0).
  struct region {
    const std::byte* base;
    std::size_t words;
    std::size_t bit_word;  // first entry of bits_/prefix_
    std::uint32_t first_ordinal;
  };
  // A WeakMap entry whose key and value are nodes: the key gets an internal edge to the value.
  struct ephemeron_entry {
    std::uint32_t key;
    std::uint32_t slot;
    const heap_object* value;
    std::uint64_t table_id;
  };
  enum class name_kind : std::uint8_t { text, context_slot, ephemeron_pair };
  struct edge {
    std::uint8_t type = 0;
    bool numeric = false;  // element / hidden: name_or_index is `index`
    name_kind kind = name_kind::text;
    std::uint32_t index = 0;
    std::string_view name;  // name_kind::text
    const heap_object* target = nullptr;
    const ephemeron_entry* entry = nullptr;  // name_kind::ephemeron_pair
  };
  struct cursor {
    std::size_t region = 0;
    std::size_t bit = 0;
    const heap_object* object = nullptr;  // the node whose edges are being written
    std::uint32_t position = 0;
    std::size_t entry = 0;  // next ephemeron_entry
  };
  enum class section : std::uint8_t { header, nodes, edges, strings, done };

  void before_mutation(const heap_object* object) noexcept override;

  void build_index();
  void count_and_intern();
  std::uint32_t ordinal(const heap_object* object) const noexcept;
  const heap_object* next_object(cursor& c) const noexcept;
  const heap_object* view(const heap_object* object) const noexcept;

  std::uint32_t position_count(const heap_object* v) const noexcept;
  bool edge_at(const heap_object* v, std::uint32_t position, edge& e) const noexcept;
  // Advances `entry_from` to the object's first WeakMap entry (nodes are visited in order).
  std::uint32_t edge_count_of(const heap_object* object, std::size_t& entry_from) const noexcept;
  std::size_t entries_of(std::uint32_t key_ordinal, std::size_t& from) const noexcept;

  std::uint8_t node_type(const heap_object* object) const noexcept;
  std::string_view class_name(const heap_object* object) const noexcept;
  std::string node_name(const heap_object* object) const;  // for non-fixed names
  bool name_is_fixed(const heap_object* object) const noexcept;
  std::string edge_name(const edge& e) const;

  bool intern(std::string_view name, bool stable);  // false: the table is full
  std::uint32_t find_interned(std::string_view name) const noexcept;
  std::uint64_t resolve(std::string_view name);  // interned index, or the next walk-order index

  bool write_nodes(std::string& out);
  bool write_edges(std::string& out);
  bool write_strings(std::string& out);
  void write_node(std::string& out, std::uint8_t type, std::uint64_t name, std::uint64_t id,
                  std::uint64_t self_size, std::uint64_t edges);
  void write_edge(std::string& out, std::uint8_t type, std::uint64_t name_or_index, std::uint32_t to);
  void write_string(std::string& out, std::string_view s);
  void close() noexcept;

  heap& heap_;
  snapshot_options options_;
  bool open_ = false;
  bool failed_ = false;

  // Index.
  std::vector<region> regions_;
  std::vector<std::uint64_t> bits_;
  std::vector<std::uint32_t> prefix_;
  std::vector<std::pair<const std::byte*, std::uint32_t>> chunk_regions_;  // sorted by chunk
  const std::byte* young_start_ = nullptr;
  const std::byte* young_end_ = nullptr;

  // Graph facts taken at construction.
  std::vector<std::uint32_t> roots_[4];  // node ordinals per root_category
  std::vector<ephemeron_entry> entries_;  // sorted by key
  std::unordered_map<const heap_object*, std::unique_ptr<std::byte[]>> copies_;
  std::size_t copied_bytes_ = 0;
  std::uint64_t node_count_ = 0;
  std::uint64_t edge_count_ = 0;
  std::uint64_t total_self_size_ = 0;

  // Strings: interned names in index order, then walk-order strings from dynamic_base_.
  std::unordered_map<std::string_view, std::uint32_t> interned_;
  std::vector<std::string_view> interned_order_;
  std::deque<std::string> owned_names_;
  std::size_t interned_bytes_ = 0;
  bool dynamic_edge_names_ = false;
  std::uint64_t dynamic_base_ = 0;  // = interned names' count, once construction is over
  std::uint64_t dynamic_next_ = 0;

  // Output state.
  section section_ = section::header;
  cursor cursor_;
  std::uint32_t synthetic_ = 0;  // next synthetic node / root edge
  std::size_t root_index_ = 0;
  std::uint64_t nodes_written_ = 0;
  std::uint64_t edges_written_ = 0;
  std::size_t string_index_ = 0;
  bool strings_edges_ = false;  // the second walk is over edges
  bool first_string_ = true;
};

}  // namespace nodus::runtime::heap
