#pragma once
// Plain statistics of the worker pool, filled by worker_pool; JSON lives in handlers/.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nodus::runtime::workers {

// What a job is, for per-kind stats (GET /debug/workers). Extend here, before `count_`.
enum class job_kind : std::uint8_t { hash, image, offload, other, count_ };
inline constexpr std::size_t job_kind_count = static_cast<std::size_t>(job_kind::count_);
inline constexpr std::array<std::string_view, job_kind_count> job_kind_names{"hash", "image",
                                                                             "offload", "other"};

// Durations in power-of-two buckets of microseconds: bucket 0 counts d < 1 us, bucket i
// counts 2^(i-1) us <= d < 2^i us; the last bucket also takes everything longer.
struct duration_histogram {
  static constexpr std::size_t bucket_count = 28;  // last bound 2^26 us ~ 67 s
  std::array<std::uint64_t, bucket_count> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum_ns = 0;
  std::uint64_t max_ns = 0;

  void record(std::uint64_t ns) noexcept;
  // Upper bound in microseconds of bucket i (what a Prometheus `le` label would say).
  static std::uint64_t bucket_upper_us(std::size_t i) noexcept;
  // Upper bound (us) of the bucket holding quantile q in [0, 1]; 0 when empty.
  std::uint64_t quantile_upper_us(double q) const noexcept;
};

struct kind_stats {
  std::uint64_t submitted = 0;   // accepted into the queue
  std::uint64_t rejected = 0;    // queue full or pool stopped
  std::uint64_t completed = 0;   // ran to the end and their result was delivered
  std::uint64_t failed = 0;      // the job threw; done() got job_status::failed
  std::uint64_t cancelled = 0;   // removed from the queue, or ran but their result was dropped
  std::uint64_t busy = 0;        // running now
  std::uint64_t queued = 0;      // waiting now
  duration_histogram queue_wait{};
  duration_histogram run_time{};
};

struct pool_stats {
  unsigned threads = 0;
  unsigned sched_idle_threads = 0;  // threads that run under SCHED_IDLE (thread_policy::idle)
  std::size_t queue_capacity = 0;
  std::uint64_t busy = 0;    // threads running a job now
  std::uint64_t queued = 0;  // jobs waiting now
  std::array<kind_stats, job_kind_count> kinds{};
};

}  // namespace nodus::runtime::workers
