#pragma once
// gc_tracer: one event per GC, a ring buffer of recent events, cumulative totals per kind,
// a pause histogram per kind, mutator utilisation, and V8's --trace-gc line format.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nodus::runtime::heap {

enum class gc_kind : std::uint8_t { minor, major };
inline constexpr std::size_t gc_kind_count = 2;

// V8's GarbageCollectionReason names, the subset nodus produces.
enum class gc_reason : std::uint8_t { allocation_failure, testing, last_resort, heap_limit };
std::string_view reason_name(gc_reason r) noexcept;
std::string_view kind_name(gc_kind k) noexcept;  // "minor" / "major"

struct gc_event {
  std::uint64_t sequence = 0;  // 1, 2, ... per heap
  gc_kind kind = gc_kind::minor;
  gc_reason reason = gc_reason::allocation_failure;
  std::string_view collector_reason;  // V8's second reason ("GC in old space requested"), static
  std::chrono::nanoseconds start{};   // since the heap was created
  std::chrono::nanoseconds pause{};
  std::size_t used_before_bytes = 0;
  std::size_t used_after_bytes = 0;
  std::size_t committed_before_bytes = 0;
  std::size_t committed_after_bytes = 0;
  std::size_t copied_bytes = 0;    // scavenge: copied within new space
  std::size_t promoted_bytes = 0;  // moved to old space
  std::size_t freed_bytes = 0;     // used_before - used_after, never negative
  std::size_t objects_moved = 0;   // scavenged + promoted + evacuated by compaction
  std::size_t weak_refs_cleared = 0;
  std::size_t ephemerons_cleared = 0;
  std::size_t finalizers_scheduled = 0;
  double average_mu = 1.0;  // mutator utilisation, as V8 prints it
  double current_mu = 1.0;
};

// Upper bounds (inclusive) of the pause histogram buckets; the last bucket is +Inf. They
// include the Prometheus gc_duration buckets (1 ms, 10 ms, 100 ms, 1 s, 2 s, 5 s).
inline constexpr std::array<std::chrono::microseconds, 15> pause_bucket_bounds{
    std::chrono::microseconds{50},     std::chrono::microseconds{100},
    std::chrono::microseconds{250},    std::chrono::microseconds{500},
    std::chrono::microseconds{1000},   std::chrono::microseconds{2500},
    std::chrono::microseconds{5000},   std::chrono::microseconds{10000},
    std::chrono::microseconds{25000},  std::chrono::microseconds{50000},
    std::chrono::microseconds{100000}, std::chrono::microseconds{250000},
    std::chrono::microseconds{1000000}, std::chrono::microseconds{2000000},
    std::chrono::microseconds{5000000}};

struct pause_histogram {
  std::array<std::uint64_t, pause_bucket_bounds.size() + 1> counts{};  // not cumulative
  std::uint64_t count = 0;
  std::chrono::nanoseconds sum{};
  void record(std::chrono::nanoseconds pause) noexcept;
};

struct gc_totals {
  std::uint64_t count = 0;
  std::chrono::nanoseconds total_pause{};
  std::chrono::nanoseconds max_pause{};
  std::size_t copied_bytes = 0;
  std::size_t promoted_bytes = 0;
  std::size_t freed_bytes = 0;
  std::size_t objects_moved = 0;
};

class gc_tracer {
 public:
  explicit gc_tracer(std::size_t history = 64) : ring_(history == 0 ? 1 : history) {}

  // Completes the event's sequence and mutator utilisation, then records it.
  void record(gc_event& event);

  const gc_totals& totals(gc_kind k) const noexcept { return totals_[static_cast<std::size_t>(k)]; }
  const pause_histogram& histogram(gc_kind k) const noexcept {
    return histograms_[static_cast<std::size_t>(k)];
  }
  // Recent events, oldest first (at most the history size).
  std::vector<gc_event> recent() const;
  std::uint64_t event_count() const noexcept { return sequence_; }

 private:
  std::vector<gc_event> ring_;
  std::uint64_t sequence_ = 0;
  std::array<gc_totals, gc_kind_count> totals_{};
  std::array<pause_histogram, gc_kind_count> histograms_{};
  std::chrono::nanoseconds last_major_end_{};
  double average_mu_ = 1.0;
  double current_mu_ = 1.0;
  double average_mutator_ms_ = 0;
  double average_major_ms_ = 0;
};

// One --trace-gc line in V8 11.3's format (no trailing newline), e.g.
// "[5810:0x258524f0]       46 ms: Scavenge 3.9 (4.0) -> 3.6 (5.0) MB, 3.81 / 0.00 ms  (average
// mu = 1.000, current mu = 1.000) allocation failure; "
std::string format_trace_gc_line(const gc_event& event, int pid, const void* isolate);

}  // namespace nodus::runtime::heap
