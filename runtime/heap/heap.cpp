#include "runtime/heap/heap.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "runtime/heap/compactor.hpp"
#include "runtime/heap/marker.hpp"
#include "runtime/heap/scavenger.hpp"
#include "runtime/heap/sweeper.hpp"
#include "runtime/heap/verifier.hpp"

namespace nodus::runtime::heap {

namespace {

// boost's error_category has a protected non-virtual destructor by design; instances are static.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class heap_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nodus.heap"; }
  std::string message(int ev) const override {
    switch (static_cast<heap_errc>(ev)) {
      case heap_errc::out_of_memory: return "heap out of memory: allocation failed after a full GC";
      case heap_errc::invalid_argument: return "invalid argument";
    }
    return "unknown heap error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& heap_category() noexcept {
  static const heap_category_impl category;
  return category;
}

std::string_view root_category_name(root_category c) noexcept {
  switch (c) {
    case root_category::handle_scope: return "(Handle scope)";
    case root_category::global_handles: return "(Global handles)";
    case root_category::kept_objects: return "(Kept objects)";
    case root_category::finalization_pending: return "(Finalization registry)";
  }
  return "(Unknown roots)";
}

heap::heap(heap_options options, task_scheduler schedule)
    : options_(std::move(options)),
      schedule_(std::move(schedule)),
      new_space_(options_.semi_space_bytes, std::max(options_.semi_space_bytes, options_.max_semi_space_bytes)),
      self_(std::make_shared<heap*>(this)),
      old_limit_(std::min(options_.initial_old_space_limit_bytes, options_.max_old_space_bytes)),
      created_(std::chrono::steady_clock::now()),
      tracer_(options_.gc_event_history) {
  options_.large_object_threshold_bytes =
      std::min(options_.large_object_threshold_bytes, old_space::max_object_bytes());
  trace_sink_ = [](std::string_view line) { spdlog::info("{}", line); };
  verify_failure_ = [](std::string_view finding) {
    spdlog::critical("heap verification failed: {}", finding);
    std::abort();
  };
}

heap::~heap() { *self_ = nullptr; }

std::chrono::nanoseconds heap::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - created_);
}

void heap::set_trace_sink(std::function<void(std::string_view)> sink) { trace_sink_ = std::move(sink); }
void heap::set_gc_observer(std::function<void(const gc_event&)> observer) { gc_observer_ = std::move(observer); }
void heap::set_verify_failure_handler(std::function<void(std::string_view)> handler) {
  verify_failure_ = std::move(handler);
}

heap_object* heap::allocate_slow(object_kind kind, std::size_t size) {
  if (size > options_.large_object_threshold_bytes) {
    // Large objects are old from birth; the limits are the old generation's.
    if (old_generation_used_bytes() + size > old_limit_) {
      collect(gc_kind::major, gc_reason::allocation_failure, "GC in old space requested");
    }
    if (over_hard_limit(size)) collect(gc_kind::major, gc_reason::last_resort, "GC in old space requested");
    if (over_hard_limit(size)) return nullptr;
    heap_object* object = large_.allocate(size);
    return object == nullptr ? nullptr : initialize(object, kind, size);
  }
  if (heap_object* object = new_space_.allocate(size)) return initialize(object, kind, size);
  collect(gc_kind::minor, gc_reason::allocation_failure, "");
  if (over_hard_limit()) {
    collect(gc_kind::major, gc_reason::last_resort, "GC in old space requested");
    if (over_hard_limit()) return nullptr;
  }
  if (heap_object* object = new_space_.allocate(size)) return initialize(object, kind, size);
  // Survivors of one scavenge fill new space: a second one promotes them.
  if (size <= new_space_.capacity() / 2) {
    collect(gc_kind::minor, gc_reason::allocation_failure, "");
    if (heap_object* object = new_space_.allocate(size)) return initialize(object, kind, size);
  }
  // Still no room (an object near the semi-space size): pretenure into old space.
  heap_object* object = allocate_old(size);
  return object == nullptr ? nullptr : initialize(object, kind, size);
}

heap_object* heap::allocate_old(std::size_t size) {
  if (old_generation_used_bytes() + size > old_limit_) {
    collect(gc_kind::major, gc_reason::allocation_failure, "GC in old space requested");
  }
  if (over_hard_limit(size)) {
    collect(gc_kind::major, gc_reason::last_resort, "GC in old space requested");
    if (over_hard_limit(size)) return nullptr;
  }
  return old_.allocate(size, true);
}

void heap::collect_garbage(gc_kind kind, gc_reason reason) {
  collect(kind, reason, kind == gc_kind::major ? "GC in old space requested" : "");
}

void heap::collect(gc_kind kind, gc_reason reason, std::string_view collector_reason) {
  if (in_gc_) return;  // a GC never nests; callers inside a GC never allocate
  if (gc_deferrals_ > 0) {  // a snapshot is streaming: objects must stay where they are
    if (!deferred_gc_ || kind == gc_kind::major) {
      deferred_gc_ = kind;
      deferred_reason_ = reason;
    }
    return;
  }
  in_gc_ = true;
  const std::chrono::nanoseconds start = now();
  gc_event event;
  event.kind = kind;
  event.reason = reason;
  event.collector_reason = collector_reason;
  event.start = start;
  event.used_before_bytes = new_space_.used_bytes() + old_generation_used_bytes();
  event.committed_before_bytes = new_space_.committed_bytes() + old_.committed_bytes() + large_.committed_bytes();

  if (kind == gc_kind::minor) {
    scavenger s(*this, false);
    const scavenge_result r = s.run();
    event.copied_bytes = r.copied_bytes;
    event.promoted_bytes = r.promoted_bytes;
    event.objects_moved = r.objects_moved;
  } else {
    run_major(event);
  }

  event.used_after_bytes = new_space_.used_bytes() + old_generation_used_bytes();
  event.committed_after_bytes = new_space_.committed_bytes() + old_.committed_bytes() + large_.committed_bytes();
  event.freed_bytes = event.used_before_bytes > event.used_after_bytes ? event.used_before_bytes - event.used_after_bytes : 0;
  event.pause = now() - start;
  in_gc_ = false;
  after_gc(event);

  // A scavenge that pushed the old generation over its trigger is followed by a major GC.
  if (kind == gc_kind::minor && old_generation_used_bytes() > old_limit_) {
    collect(gc_kind::major, gc_reason::allocation_failure, "promotion limit reached");
  }
}

void heap::run_major(gc_event& event) {
  // New space is emptied first (every survivor promoted), so marking sees one generation.
  scavenger s(*this, true);
  const scavenge_result r = s.run();
  event.promoted_bytes = r.promoted_bytes;
  event.objects_moved = r.objects_moved;

  old_.retire_lab();
  marker m(*this);
  m.run();
  const weak_result w = weak_processor(*this, m).run();
  event.weak_refs_cleared = w.weak_refs_cleared;
  event.ephemerons_cleared = w.ephemerons_cleared;
  event.finalizers_scheduled = w.finalizers_scheduled;

  compactor c(*this);
  c.select_candidates();
  sweeper(*this).run();
  const compaction_result cr = c.evacuate_and_update();
  event.objects_moved += cr.objects_moved;
  update_old_limit();
}

void heap::update_old_limit() noexcept {
  const auto grown = static_cast<std::size_t>(static_cast<double>(old_generation_used_bytes()) *
                                              options_.old_space_growing_factor);
  old_limit_ = std::min(std::max(grown, options_.initial_old_space_limit_bytes), options_.max_old_space_bytes);
}

void heap::after_gc(gc_event& event) {
  tracer_.record(event);
  if (leaks_.record(event)) {
    const leak_status& l = leaks_.status();
    spdlog::warn("heap leak suspected: live size after major GC grew {} times in a row, {:.1f} -> {:.1f} MB",
                 l.growing_gcs, static_cast<double>(l.run_start_bytes) / mib,
                 static_cast<double>(l.last_used_after_bytes) / mib);
  }
  if (options_.trace_gc && trace_sink_) trace_sink_(format_trace_gc_line(event, static_cast<int>(::getpid()), this));
  if (options_.verify_heap) {
    for (const std::string& finding : verify()) verify_failure_(finding);
  }
  if (!pending_cleanups_.empty()) schedule_cleanup_task();
  peak_malloced_ = std::max(peak_malloced_, statistics().malloced_memory);
  if (gc_observer_) gc_observer_(event);
}

std::vector<std::string> heap::verify() { return verifier(*this).run(); }

void heap::resume_gc() {
  if (gc_deferrals_ == 0 || --gc_deferrals_ > 0 || !deferred_gc_) return;
  const gc_kind kind = *deferred_gc_;
  deferred_gc_.reset();
  collect(kind, deferred_reason_, kind == gc_kind::major ? "GC in old space requested" : "");
}

void heap::add_mutation_observer(mutation_observer* observer) { mutation_observers_.push_back(observer); }

void heap::remove_mutation_observer(mutation_observer* observer) noexcept {
  std::erase(mutation_observers_, observer);
}

void heap::notify_mutation(const heap_object* object) noexcept {
  for (mutation_observer* o : mutation_observers_) o->before_mutation(object);
}

void heap::schedule_cleanup_task() {
  if (cleanup_task_scheduled_ || !schedule_) return;
  cleanup_task_scheduled_ = true;
  schedule_([self = std::weak_ptr<heap*>(self_)] {
    auto alive = self.lock();
    if (!alive || *alive == nullptr) return;
    heap& h = **alive;
    h.cleanup_task_scheduled_ = false;
    h.run_finalization_cleanups();
  });
}

void heap::run_finalization_cleanups() {
  while (!pending_cleanups_.empty()) {
    handle_scope scope(*this);
    // Take the oldest entry out before calling: the callback may allocate and collect.
    local<finalization_registry_object> registry = scope.make<finalization_registry_object>(pending_cleanups_[0]);
    local<> held = scope.make(pending_cleanups_[1]);
    pending_cleanups_.erase(pending_cleanups_.begin(), pending_cleanups_.begin() + 3);
    // Copy: the callback may create registries and grow the table.
    cleanup_callback callback = cleanup_callbacks_[registry->callback_index];
    if (callback) callback(*this, held);
  }
}

}  // namespace nodus::runtime::heap
