#include "runtime/heap/gc_tracer.hpp"

#include <algorithm>
#include <cstdio>

namespace nodus::runtime::heap {

std::string_view reason_name(gc_reason r) noexcept {
  switch (r) {
    case gc_reason::allocation_failure: return "allocation failure";
    case gc_reason::testing: return "testing";
    case gc_reason::last_resort: return "last resort";
    case gc_reason::heap_limit: return "heap limit";
  }
  return "unknown";
}

std::string_view kind_name(gc_kind k) noexcept { return k == gc_kind::minor ? "minor" : "major"; }

void pause_histogram::record(std::chrono::nanoseconds pause) noexcept {
  std::size_t i = 0;
  while (i < pause_bucket_bounds.size() && pause > pause_bucket_bounds[i]) ++i;
  ++counts[i];
  ++count;
  sum += pause;
}

void gc_tracer::record(gc_event& event) {
  event.sequence = ++sequence_;
  if (event.kind == gc_kind::major) {
    // V8's rule: utilisation over the time since the previous mark-compact, averaged with
    // the previous figures.
    using ms = std::chrono::duration<double, std::milli>;
    const double mutator = std::max(0.0, ms(event.start - last_major_end_).count());
    const double pause = ms(event.pause).count();
    current_mu_ = mutator + pause > 0 ? mutator / (mutator + pause) : 1.0;
    if (average_major_ms_ == 0 && average_mutator_ms_ == 0) {
      average_mutator_ms_ = mutator;
      average_major_ms_ = pause;
    } else {
      average_mutator_ms_ = (average_mutator_ms_ + mutator) / 2;
      average_major_ms_ = (average_major_ms_ + pause) / 2;
    }
    const double total = average_mutator_ms_ + average_major_ms_;
    average_mu_ = total > 0 ? average_mutator_ms_ / total : 1.0;
    last_major_end_ = event.start + event.pause;
  }
  event.average_mu = average_mu_;
  event.current_mu = current_mu_;

  auto& t = totals_[static_cast<std::size_t>(event.kind)];
  ++t.count;
  t.total_pause += event.pause;
  t.max_pause = std::max(t.max_pause, event.pause);
  t.copied_bytes += event.copied_bytes;
  t.promoted_bytes += event.promoted_bytes;
  t.freed_bytes += event.freed_bytes;
  t.objects_moved += event.objects_moved;
  histograms_[static_cast<std::size_t>(event.kind)].record(event.pause);
  ring_[(sequence_ - 1) % ring_.size()] = event;
}

std::vector<gc_event> gc_tracer::recent() const {
  std::vector<gc_event> out;
  const std::uint64_t n = std::min<std::uint64_t>(sequence_, ring_.size());
  out.reserve(n);
  for (std::uint64_t s = sequence_ - n + 1; s <= sequence_; ++s) out.push_back(ring_[(s - 1) % ring_.size()]);
  return out;
}

std::string format_trace_gc_line(const gc_event& e, int pid, const void* isolate) {
  constexpr double mb = 1024.0 * 1024.0;
  using ms = std::chrono::duration<double, std::milli>;
  const std::string_view name = e.kind == gc_kind::minor ? "Scavenge" : "Mark-Compact";
  const std::string_view reason = reason_name(e.reason);
  char buffer[512];
  const int n = std::snprintf(
      buffer, sizeof buffer,
      "[%d:%p] %8.0f ms: %.*s %.1f (%.1f) -> %.1f (%.1f) MB, %.2f / %.2f ms  (average mu = %.3f, "
      "current mu = %.3f) %.*s; %.*s",
      pid, isolate, ms(e.start).count(), static_cast<int>(name.size()), name.data(),
      static_cast<double>(e.used_before_bytes) / mb, static_cast<double>(e.committed_before_bytes) / mb,
      static_cast<double>(e.used_after_bytes) / mb, static_cast<double>(e.committed_after_bytes) / mb,
      ms(e.pause).count(), 0.0, e.average_mu, e.current_mu, static_cast<int>(reason.size()),
      reason.data(), static_cast<int>(e.collector_reason.size()), e.collector_reason.data());
  return std::string(buffer, static_cast<std::size_t>(std::max(0, std::min<int>(n, sizeof buffer - 1))));
}

}  // namespace nodus::runtime::heap
