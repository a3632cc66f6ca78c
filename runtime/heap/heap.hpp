#pragma once
// heap: one managed heap per event loop — single-threaded, precise, generational.
//   new space (two semi-spaces, bump allocation) — scavenged (Cheney copy, promotion on the
//   second survival); old space (256 KiB pages, free lists) and large-object space — marked
//   (explicit worklist, ephemeron fixpoint), swept, and compacted (sparse pages evacuated).
// Every call documented "may trigger GC" can move objects: keep references in handles.
// Allocation that fails even after a full GC returns heap_errc::out_of_memory; never aborts.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/heap/gc_tracer.hpp"
#include "runtime/heap/handles.hpp"
#include "runtime/heap/heap_stats.hpp"
#include "runtime/heap/large_object_space.hpp"
#include "runtime/heap/leak_detector.hpp"
#include "runtime/heap/new_space.hpp"
#include "runtime/heap/object.hpp"
#include "runtime/heap/old_space.hpp"
#include "runtime/heap/value.hpp"

namespace nodus::runtime::heap {

enum class heap_errc { out_of_memory = 1, invalid_argument };
const boost::system::error_category& heap_category() noexcept;
inline boost::system::error_code make_error_code(heap_errc e) noexcept {
  return {static_cast<int>(e), heap_category()};
}
template <class T>
using result = boost::system::result<T>;

inline constexpr std::size_t mib = 1024 * 1024;

struct heap_options {
  std::size_t semi_space_bytes = 1 * mib;        // initial capacity of each semi-space
  std::size_t max_semi_space_bytes = 16 * mib;   // growth limit (Node's default maximum)
  std::size_t max_old_space_bytes = 2048 * mib;  // --max-old-space-size: old + large objects
  std::size_t initial_old_space_limit_bytes = 16 * mib;  // first major-GC trigger
  double old_space_growing_factor = 2.0;         // next trigger = live old bytes * factor
  std::size_t large_object_threshold_bytes = 128 * 1024;
  double compaction_live_ratio = 0.5;  // evacuate pages whose live/area is below this; 0: never
  std::size_t max_evacuated_bytes = 32 * mib;  // per major GC
  bool verify_heap = false;            // run the verifier after every GC
  bool trace_gc = false;               // one V8-format line per GC through the trace sink
  std::size_t gc_event_history = 64;
  leak_detector_options leak_detection{};  // see leak_detector.hpp
  // Monotonic time; default std::chrono::steady_clock. Tests pass a manual clock.
  std::function<std::chrono::nanoseconds()> clock;
};

// Where a root slot lives, for snapshots ("(Handle scope)", "(Global handles)", ...).
enum class root_category : std::uint8_t { handle_scope, global_handles, kept_objects, finalization_pending };
std::string_view root_category_name(root_category c) noexcept;

// Edge kinds as a V8 heap snapshot names them.
enum class edge_kind : std::uint8_t { context, element, property, internal, hidden, weak };
struct heap_reference {
  edge_kind kind;
  std::string_view name;  // property name / internal field name; empty for element & hidden
  std::uint32_t index;    // element or hidden index
  value target;           // a reference
};

class heap {
 public:
  using task = std::function<void()>;
  using task_scheduler = std::function<void(task)>;
  // Called from a loop task (never inside GC) once per collected registered target.
  using cleanup_callback = std::function<void(heap&, local<> held)>;

  // `schedule` runs FinalizationRegistry cleanups later as loop tasks; without one they run
  // only through run_finalization_cleanups().
  explicit heap(heap_options options = {}, task_scheduler schedule = {});
  ~heap();
  heap(const heap&) = delete;
  heap& operator=(const heap&) = delete;

  // --- allocation: each may trigger GC; results are locals in the innermost scope ---------
  result<local<string_object>> new_string(std::string_view text);
  result<local<byte_array_object>> new_byte_array(std::size_t length);  // zero-filled; inline
  result<local<byte_array_object>> new_byte_array(std::span<const std::byte> bytes);
  result<local<array_object>> new_array(std::size_t capacity = 0);
  result<local<js_object>> new_object(std::size_t capacity = 0);
  // `parent`: a context or null. Slots start undefined.
  result<local<context_object>> new_context(value parent, std::uint32_t slot_count);
  result<local<closure_object>> new_closure(std::uint64_t function_id, value context);
  // `target` must be a reference; it is kept alive until clear_kept_objects().
  result<local<weak_ref_object>> new_weak_ref(value target);
  result<local<weak_map_object>> new_weak_map();
  result<local<finalization_registry_object>> new_finalization_registry(cleanup_callback cleanup);

  // --- raw allocation (V8's AllocateRaw + initialisation): no handle ---------------------
  // Leaf objects only (no references), fully initialised. The pointer is raw — the no-GC
  // contract: it is valid only until the next call that may trigger GC (any allocation);
  // put it in a handle (`scope.make(value::reference(p))`) or store it into a heap object
  // with heap::write before the next such call. nullptr when the heap is exhausted (after a
  // full GC). May trigger GC. The fast path (a bump in new space) is inline.
  byte_array_object* new_byte_array_raw(std::size_t length);  // zero-filled
  string_object* new_string_raw(std::string_view text);

  // --- arrays (reads must not allocate; writes may trigger GC when they grow) --------------
  std::uint32_t array_length(local<array_object> a) const noexcept;
  value array_get(local<array_object> a, std::uint32_t index) const noexcept;  // undefined if out
  result<void> array_set(local<array_object> a, std::uint32_t index, value v);  // holes: undefined
  result<void> array_push(local<array_object> a, value v);

  // --- objects: string keys, insertion order ------------------------------------------------
  std::optional<value> get_property(local<js_object> o, std::string_view key) const noexcept;
  // May trigger GC (new key string, larger property store).
  result<void> set_property(local<js_object> o, std::string_view key, value v);
  // The key string becomes the property's key when the property is new.
  result<void> set_property(local<js_object> o, local<string_object> key, value v);
  // Appends a property without looking the key up: the caller guarantees `key` is not a
  // property of `o` yet (e.g. keys of a parsed JSON object). O(1) amortised; may trigger GC.
  result<void> add_property(local<js_object> o, local<string_object> key, value v);
  // Replaces the value of the property at insertion-order position `index` (< property_count).
  void set_property_value(local<js_object> o, std::uint32_t index, value v) noexcept;
  bool delete_property(local<js_object> o, std::string_view key) noexcept;
  std::uint32_t property_count(local<js_object> o) const noexcept;
  // fn(std::string_view key, value v, value key_string) in insertion order; fn must not allocate.
  template <class Fn>
  void for_each_property(local<js_object> o, Fn&& fn) const;

  // --- contexts ----------------------------------------------------------------------------
  value context_get(local<context_object> c, std::uint32_t index) const noexcept;
  void context_set(local<context_object> c, std::uint32_t index, value v) noexcept;

  // --- weak references ---------------------------------------------------------------------
  // WeakRef.prototype.deref: the target (kept alive until clear_kept_objects) or undefined.
  value weak_ref_deref(local<weak_ref_object> r);
  std::optional<value> weak_map_get(local<weak_map_object> m, value key) const noexcept;
  bool weak_map_has(local<weak_map_object> m, value key) const noexcept;
  // `key` must be a reference. May trigger GC (larger table).
  result<void> weak_map_set(local<weak_map_object> m, value key, value v);
  bool weak_map_delete(local<weak_map_object> m, value key) noexcept;
  std::uint32_t weak_map_size(local<weak_map_object> m) const noexcept;
  // `target` must be a reference other than `held`; `token` a reference or undefined.
  result<void> finalization_register(local<finalization_registry_object> r, value target,
                                     value held, value token = value::undefined());
  bool finalization_unregister(local<finalization_registry_object> r, value token) noexcept;
  // ClearKeptObjects: the event loop calls this after every callback's microtask checkpoint.
  void clear_kept_objects() noexcept;
  // Runs pending cleanup callbacks now (the scheduled task does the same). May trigger GC.
  void run_finalization_cleanups();
  std::size_t pending_finalization_count() const noexcept { return pending_cleanups_.size() / 3; }

  // --- collection ----------------------------------------------------------------------------
  // Explicit GC (global.gc({type}) / --expose-gc). Must not be called from inside a GC.
  void collect_garbage(gc_kind kind, gc_reason reason = gc_reason::testing);

  // --- statistics and tracing -----------------------------------------------------------------
  heap_statistics statistics() const noexcept;
  std::vector<heap_space_statistics> space_statistics() const;
  object_statistics object_stats();  // walks the heap; must not be called inside a GC
  const gc_tracer& tracer() const noexcept { return tracer_; }
  // Steady growth of the live size after major GCs (fed at the end of every GC).
  const leak_detector& leaks() const noexcept { return leaks_; }
  const heap_options& options() const noexcept { return options_; }
  // Receives each --trace-gc line when options().trace_gc; default: spdlog's default logger.
  void set_trace_sink(std::function<void(std::string_view)> sink);
  // Called at the end of every GC with its event; must not allocate on this heap.
  void set_gc_observer(std::function<void(const gc_event&)> observer);
  // Called with each verifier finding when options().verify_heap; default: log and abort.
  void set_verify_failure_handler(std::function<void(std::string_view)> handler);
  // Runs the verifier now; returns its findings (empty = consistent).
  std::vector<std::string> verify();

  // --- iteration, for heap snapshots and tools (none of these may allocate) ----------------
  // fn(heap_object*) for every object (backing stores included, fillers excluded).
  template <class Fn>
  void for_each_object(Fn&& fn);
  // fn(const heap_reference&) for every outgoing reference of `object`.
  void for_each_reference(const heap_object* object,
                          const std::function<void(const heap_reference&)>& fn) const;
  // fn(root_category, value) for every root that holds a reference.
  void for_each_root(const std::function<void(root_category, value)>& fn);
  // Linear search by stable id; nullptr when no such object exists.
  heap_object* find_object(std::uint64_t id);
  static constexpr std::uint64_t first_object_id = 101;  // ids below are for synthetic nodes

  // --- snapshot support: GC deferral and mutation observers (heap_snapshot.hpp) -------------
  // While deferred (a counter: deferrals nest) no GC runs, so no object moves or dies: an
  // allocation that would need one is served from old space (pretenured, as after a failed
  // scavenge) or a large chunk, and fails with out_of_memory only at max_old_space_bytes.
  // Requested GCs (explicit ones included) are remembered; the strongest runs when the last
  // deferral ends (resume_gc may therefore trigger GC).
  void defer_gc() noexcept { ++gc_deferrals_; }
  void resume_gc();
  bool gc_deferred() const noexcept { return gc_deferrals_ > 0; }
  // Told before an existing object's outgoing references or reference counts change: every
  // store through write() and the object API's direct changes (lengths, property counts,
  // cleared stores). A snapshot writer copies the object then (copy-on-write). Must not
  // allocate on this heap or trigger GC.
  class mutation_observer {
   public:
    virtual void before_mutation(const heap_object* object) noexcept = 0;

   protected:
    virtual ~mutation_observer() = default;
  };
  void add_mutation_observer(mutation_observer* observer);
  void remove_mutation_observer(mutation_observer* observer) noexcept;

  // --- generation queries -------------------------------------------------------------------
  bool is_young(value v) const noexcept { return v.is_reference() && new_space_.contains(v.as_object()); }
  bool in_large_object_space(value v) const noexcept;
  bool survived_once_for_testing(value v) const noexcept {
    return is_young(v) && (v.as_object()->header.gc_bits & gc_bit::survived) != 0;
  }
  std::size_t young_used_bytes() const noexcept { return new_space_.used_bytes(); }
  std::size_t old_generation_used_bytes() const noexcept { return old_.used_bytes() + large_.used_bytes(); }
  std::size_t old_generation_limit_bytes() const noexcept { return old_limit_; }
  std::size_t new_space_capacity_bytes() const noexcept { return new_space_.capacity(); }
  std::size_t old_space_page_count() const noexcept { return old_.pages().size(); }
  std::size_t remembered_slot_count() const noexcept;

  handle_storage& handles() noexcept { return handles_; }
  persistent_table& persistents() noexcept { return persistents_; }

  // --- write barrier ----------------------------------------------------------------------------
  // Every reference store into a heap object goes through here. Must not allocate.
  void write(heap_object* host, value* slot, value v) noexcept {
    note_mutation(host);
    *slot = v;
    if (v.is_reference() && new_space_.contains(v.as_object()) && !new_space_.contains(host)) {
      record_slot(host, slot);
    }
  }

 private:
  friend class scavenger;
  friend class marker;
  friend class weak_processor;
  friend class sweeper;
  friend class compactor;
  friend class verifier;

  void note_mutation(const heap_object* object) noexcept {
    if (!mutation_observers_.empty()) [[unlikely]] notify_mutation(object);
  }
  void notify_mutation(const heap_object* object) noexcept;
  void record_slot(heap_object* host, value* slot) noexcept {
    memory_chunk* chunk = memory_chunk::of(host);
    chunk->remembered().insert(static_cast<std::size_t>(reinterpret_cast<std::byte*>(slot) - chunk->base()));
  }
  // Raw allocation with header written; may trigger GC; nullptr when the heap is exhausted.
  // Fast path: one bump in new space and the header (no result, no statistics: used bytes
  // are derived from the bump pointer). Everything else is allocate_slow, out of line.
  heap_object* allocate(object_kind kind, std::size_t size) {
    size = round_up(size < header_size ? header_size : size);
    if (size <= options_.large_object_threshold_bytes) [[likely]] {
      if (heap_object* object = new_space_.allocate(size)) [[likely]] return initialize(object, kind, size);
    }
    return allocate_slow(kind, size);
  }
  [[gnu::noinline]] heap_object* allocate_slow(object_kind kind, std::size_t size);
  heap_object* allocate_old(std::size_t size);
  heap_object* initialize(heap_object* object, object_kind kind, std::size_t size) noexcept {
    // Read the id counter before the header stores: they are 64-bit stores the compiler
    // would otherwise have to assume alias next_id_.
    const std::uint64_t id = next_id_;
    next_id_ = id + 2;
    object->header.size_bytes = static_cast<std::uint32_t>(size);
    object->header.kind = kind;
    object->header.gc_bits = 0;
    object->header.flags = 0;
    object->header.id_or_forward = id;
    return object;
  }
  bool over_hard_limit(std::size_t extra = 0) const noexcept {
    return old_generation_used_bytes() + extra > options_.max_old_space_bytes;
  }
  void collect(gc_kind kind, gc_reason reason, std::string_view collector_reason);
  void run_major(gc_event& event);
  void after_gc(gc_event& event);
  void update_old_limit() noexcept;
  std::chrono::nanoseconds now() const;

  // Object helpers (heap_objects.cpp).
  result<fixed_array_object*> grow_store(local<> owner, std::size_t slot_offset, object_kind kind,
                                         std::size_t min_capacity);
  result<fixed_array_object*> new_store(object_kind kind, std::size_t capacity);
  result<void> rehash(local<weak_map_object> m, std::size_t entries);
  template <class T>
  result<local<T>> make_local(heap_object* object);
  std::int64_t find_property(const js_object* o, std::string_view key) const noexcept;
  std::int64_t find_entry(const fixed_array_object* table, value key) const noexcept;
  void keep_alive(value target);
  void schedule_cleanup_task();

  // Visits every root slot as fn(value* slot, root_category).
  template <class Fn>
  void visit_roots(Fn&& fn) {
    handles_.for_each_slot([&](value* s) { fn(s, root_category::handle_scope); });
    persistents_.for_each_slot([&](value* s) { fn(s, root_category::global_handles); });
    for (value& v : kept_) fn(&v, root_category::kept_objects);
    for (value& v : pending_cleanups_) fn(&v, root_category::finalization_pending);
  }

  heap_options options_;
  task_scheduler schedule_;
  new_space new_space_;
  old_space old_;
  large_object_space large_;
  handle_storage handles_;
  persistent_table persistents_;
  std::vector<value> kept_;              // WeakRef targets kept until clear_kept_objects
  std::vector<value> pending_cleanups_;  // (registry, held, token) triples awaiting their task
  std::vector<cleanup_callback> cleanup_callbacks_;
  std::vector<std::uint32_t> free_callback_slots_;
  bool cleanup_task_scheduled_ = false;
  std::shared_ptr<heap*> self_;  // lets a queued cleanup task see that the heap is gone

  std::uint64_t next_id_ = first_object_id;
  std::size_t old_limit_;
  bool in_gc_ = false;
  std::uint32_t gc_deferrals_ = 0;
  std::optional<gc_kind> deferred_gc_;  // the strongest GC requested while deferred
  gc_reason deferred_reason_ = gc_reason::testing;
  std::vector<mutation_observer*> mutation_observers_;
  std::chrono::steady_clock::time_point created_;
  gc_tracer tracer_;
  leak_detector leaks_{options_.leak_detection};
  std::function<void(std::string_view)> trace_sink_;
  std::function<void(const gc_event&)> gc_observer_;
  std::function<void(std::string_view)> verify_failure_;
  std::size_t peak_malloced_ = 0;
};

// --- templates ----------------------------------------------------------------------------

template <class T>
persistent<T>::persistent(heap& h, value v) : table_(&h.persistents()), slot_(table_->create(v)) {}

template <class T>
inline result<local<T>> heap::make_local(heap_object* object) {
  if (object == nullptr) [[unlikely]] return make_error_code(heap_errc::out_of_memory);
  return local<T>(handles_.create(value::reference(object)));
}

inline byte_array_object* heap::new_byte_array_raw(std::size_t length) {
  auto* b = static_cast<byte_array_object*>(allocate(object_kind::byte_array, byte_array_object::size_for(length)));
  if (b != nullptr) [[likely]] {
    b->length = length;
    std::memset(b->bytes().data(), 0, round_up(length));  // the body, padding included
  }
  return b;
}

inline string_object* heap::new_string_raw(std::string_view text) {
  auto* s = static_cast<string_object*>(allocate(object_kind::string, string_object::size_for(text.size())));
  if (s != nullptr) [[likely]] {
    s->length = text.size();
    if (!text.empty()) std::memcpy(s->data(), text.data(), text.size());
  }
  return s;
}

inline result<local<byte_array_object>> heap::new_byte_array(std::size_t length) {
  return make_local<byte_array_object>(new_byte_array_raw(length));
}

template <class Fn>
void heap::for_each_property(local<js_object> o, Fn&& fn) const {
  const js_object* obj = o.raw();
  if (!obj->properties.is_reference()) return;
  const auto* store = obj->properties.as<fixed_array_object>();
  for (std::uint32_t i = 0; i < obj->property_count; ++i) {
    const value key = store->slots()[2 * i];
    fn(key.as<string_object>()->view(), store->slots()[2 * i + 1], key);
  }
}

template <class Fn>
void heap::for_each_object(Fn&& fn) {
  auto walk = [&](std::byte* p, std::byte* end) {
    while (p < end) {
      auto* object = reinterpret_cast<heap_object*>(p);
      p += object->size_bytes();
      if (!is_filler(object->kind())) fn(object);
    }
  };
  walk(new_space_.active_start(), new_space_.top());
  old_.retire_lab();  // the page walk needs the allocation area's rest to be a filler
  for (memory_chunk* page : old_.pages()) walk(page->area_start(), page->area_end());
  for (memory_chunk* chunk : large_.chunks()) fn(large_object_space::object_in(chunk));
}

}  // namespace nodus::runtime::heap

template <>
struct boost::system::is_error_code_enum<nodus::runtime::heap::heap_errc> : std::true_type {};
