#pragma once
// Plain statistics of one event loop, filled by the loop; formatting lives in handlers/.
#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace nodus::runtime::loop {

enum class phase : std::uint8_t { pending, poll, check, close, timers };
inline constexpr std::size_t phase_count = 5;
inline constexpr std::array<const char*, phase_count> phase_names{"pending", "poll", "check",
                                                                  "close", "timers"};

struct phase_stats {
  std::uint64_t callbacks = 0;   // callbacks run in this phase
  std::uint64_t time_ns = 0;     // wall time spent running them (waiting excluded)
};

// monitorEventLoopDelay(): as Node, each sample is the time between two firings of the
// sampling timer (resolution + lateness), in nanoseconds; min is therefore ~resolution.
struct delay_histogram_stats {
  std::uint64_t count = 0;
  double min_ns = 0, max_ns = 0, mean_ns = 0, stddev_ns = 0;
  double p50_ns = 0, p90_ns = 0, p99_ns = 0;
  std::uint64_t exceeds = 0;  // samples beyond the histogram's range
  double resolution_ms = 0;   // 0: monitoring disabled
};

// performance.eventLoopUtilization()
struct utilization_stats {
  // idle = time blocked in poll waiting for I/O or a timer (libuv's idle time, measured as
  // wall time minus thread CPU time of the blocking wait); active = loop lifetime - idle.
  double idle_ms = 0;
  double active_ms = 0;
  double utilization = 0;  // active / (idle + active)
};

struct queue_depths {
  std::uint64_t timers = 0;
  std::uint64_t immediates = 0;
  std::uint64_t next_ticks = 0;
  std::uint64_t microtasks = 0;
  std::uint64_t pending = 0;
  std::uint64_t closing = 0;
  std::uint64_t timer_lists = 0;  // Node's per-duration timer lists
  std::uint64_t posts = 0;        // post()s not yet run
};

struct loop_stats {
  unsigned index = 0;
  std::uint64_t iterations = 0;
  std::array<phase_stats, phase_count> phases{};
  std::uint64_t next_ticks_run = 0;
  std::uint64_t microtasks_run = 0;
  queue_depths queues{};
  std::map<std::string, std::uint64_t> active_handles;   // by type
  std::map<std::string, std::uint64_t> active_requests;  // by type
  // process.getActiveResourcesInfo(): requests + handles + one "Timeout" per referenced
  // timer + one "Immediate" per immediate.
  std::map<std::string, std::uint64_t> active_resources;
  std::uint64_t timers_run = 0;
  std::uint64_t immediates_run = 0;
  utilization_stats utilization{};
  delay_histogram_stats delay{};
};

}  // namespace nodus::runtime::loop
