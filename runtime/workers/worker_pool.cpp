// worker_pool, after libuv's src/threadpool.c, as an object.
//
// Lock rule: one mutex (pool_core::mutex_) guards the queue, every job_state's phase, the
// stopping flag, the start-up count of ready threads and all stats. Jobs run with it
// released. A job's fate (completed, failed, cancelled) is decided and counted under it; the
// completion is then posted with it released, so post() — which takes the loop's own lock —
// never nests inside ours. stop() moves the whole queue out under the lock and posts the
// cancellations outside it.
// Three atomics mirror state for this_job::should_yield(), which a running job reads without
// the lock: the queue's length (waiting_), stopping_ and the job's cancel_requested. They are
// written under the mutex and read relaxed: a hint, never a decision of the pool's.
#include "runtime/workers/worker_pool.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/process/parallelism.hpp"

namespace nodus::runtime::workers {

// --- duration_histogram ---------------------------------------------------------------

void duration_histogram::record(std::uint64_t ns) noexcept {
  const std::uint64_t us = ns / 1000;
  const std::size_t i = std::min<std::size_t>(std::bit_width(us), bucket_count - 1);
  ++buckets[i];
  ++count;
  sum_ns += ns;
  max_ns = std::max(max_ns, ns);
}

std::uint64_t duration_histogram::bucket_upper_us(std::size_t i) noexcept {
  return std::uint64_t{1} << std::min<std::size_t>(i, 63);
}

std::uint64_t duration_histogram::quantile_upper_us(double q) const noexcept {
  if (count == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count - 1)) + 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets[i];
    if (seen >= rank) return bucket_upper_us(i);
  }
  return bucket_upper_us(bucket_count - 1);
}

// --- core ---------------------------------------------------------------------------------

namespace detail {

enum class phase : std::uint8_t { queued, running, finished };

struct job_state {
  phase ph = phase::queued;
  std::atomic<bool> cancel_requested{false};
};

struct queued_job {
  std::shared_ptr<job_state> state;
  std::shared_ptr<task_base> task;
  post_fn post;
  job_kind kind;
  loop::time_point enqueued;
};

class pool_core {
 public:
  pool_core(unsigned threads, std::size_t capacity, const loop::clock& clk, loop::duration yield_slice)
      : thread_count_(threads), capacity_(capacity), clk_(clk), yield_slice_(yield_slice) {
    stats_.threads = threads;
    stats_.queue_capacity = capacity;
  }

  void start(unsigned threads, int nice_increment, thread_policy policy, const std::string& name) {
    threads_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([this, nice = nice_increment, policy, name = name + "-" + std::to_string(i)] {
        // Linux limits a thread's name to 15 bytes: keep the end, where the index is.
        ::pthread_setname_np(::pthread_self(), name.substr(name.size() > 15 ? name.size() - 15 : 0).c_str());
        lower_priority(nice);
        const bool idle = policy == thread_policy::idle && enter_sched_idle();
        {
          std::lock_guard lk(mutex_);
          if (idle) ++stats_.sched_idle_threads;
          ++threads_ready_;
        }
        ready_cv_.notify_all();
        worker_main();
      });
    }
    // The constructor returns once every thread runs at its policy: stats are exact from the
    // start and no job ever runs at the loops' priority.
    std::unique_lock lk(mutex_);
    ready_cv_.wait(lk, [&] { return threads_ready_ == threads; });
  }

  // SCHED_IDLE is per thread on Linux and needs no privilege to enter. On failure the thread
  // keeps the normal policy (and its raised nice), which is only less strict.
  static bool enter_sched_idle() noexcept {
    sched_param param{};
    param.sched_priority = 0;
    return ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param) == 0;
  }

  // On Linux a nice value belongs to a thread (setpriority on its tid). Raising it needs no
  // privilege; failure leaves the thread at the loops' priority, which is only slower.
  static void lower_priority(int increment) noexcept {
    if (increment <= 0) return;
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    errno = 0;
    const int current = ::getpriority(PRIO_PROCESS, tid);
    if (current == -1 && errno != 0) return;
    ::setpriority(PRIO_PROCESS, tid, std::min(current + increment, 19));
  }

  submission submit(job_kind kind, std::shared_ptr<task_base> t, post_fn post,
                    std::weak_ptr<pool_core> self) {
    auto state = std::make_shared<job_state>();
    {
      std::lock_guard lk(mutex_);
      auto& ks = kind_of(kind);
      if (stopping_ || queue_.size() >= capacity_) {
        ++ks.rejected;
        return {stopping_ ? submit_status::stopped : submit_status::queue_full, {}};
      }
      queue_.push_back({state, std::move(t), std::move(post), kind, clk_.now()});
      waiting_.store(queue_.size(), std::memory_order_relaxed);
      ++ks.submitted;
      ++ks.queued;
      ++stats_.queued;
    }
    cv_.notify_one();
    return {submit_status::accepted, job_handle(std::move(self), std::move(state))};
  }

  cancel_result cancel(const std::shared_ptr<job_state>& state) {
    std::unique_lock lk(mutex_);
    switch (state->ph) {
      case phase::finished:
        return cancel_result::too_late;
      case phase::running:
        state->cancel_requested = true;
        return cancel_result::dropped;
      case phase::queued:
        break;
    }
    auto it = std::find_if(queue_.begin(), queue_.end(),
                           [&](const queued_job& q) { return q.state == state; });
    queued_job job = std::move(*it);
    queue_.erase(it);
    waiting_.store(queue_.size(), std::memory_order_relaxed);
    mark_cancelled_queued(job);
    lk.unlock();
    post_completion(job, job_status::cancelled, {});
    return cancel_result::removed;
  }

  void stop() {
    std::deque<queued_job> cancelled;
    {
      std::lock_guard lk(mutex_);
      if (stopping_) return;
      stopping_.store(true, std::memory_order_relaxed);
      cancelled.swap(queue_);
      waiting_.store(0, std::memory_order_relaxed);
      for (auto& job : cancelled) mark_cancelled_queued(job);
    }
    cv_.notify_all();
    for (auto& job : cancelled) post_completion(job, job_status::cancelled, {});
    for (auto& t : threads_) t.join();
  }

  // this_job::should_yield() for `job`, a job of this pool's running on the calling thread
  // since `started`.
  bool should_yield(const job_state& job, loop::time_point started) const noexcept {
    if (stopping_.load(std::memory_order_relaxed) || job.cancel_requested.load(std::memory_order_relaxed)) return true;
    return waiting_.load(std::memory_order_relaxed) > 0 && clk_.now() - started >= yield_slice_;
  }

  // The job running on this thread, for this_job::should_yield(); empty between jobs.
  struct running_job {
    const pool_core* core = nullptr;
    const job_state* state = nullptr;
    loop::time_point started{};
  };
  static thread_local running_job current_job;

  unsigned thread_count() const noexcept { return thread_count_; }
  std::size_t capacity() const noexcept { return capacity_; }

  pool_stats stats() const {
    std::lock_guard lk(mutex_);
    return stats_;
  }

  unsigned retry_after_seconds() const {
    std::lock_guard lk(mutex_);
    std::uint64_t runs = 0, run_ns = 0;
    for (const auto& k : stats_.kinds) {
      runs += k.run_time.count;
      run_ns += k.run_time.sum_ns;
    }
    const double mean_ns = runs == 0 ? 0.0 : static_cast<double>(run_ns) / static_cast<double>(runs);
    const double drain_s = mean_ns * static_cast<double>(queue_.size() + stats_.busy) /
                           std::max(1.0, static_cast<double>(stats_.threads)) / 1e9;
    return std::max(1u, static_cast<unsigned>(std::ceil(drain_s)));
  }

 private:
  kind_stats& kind_of(job_kind k) { return stats_.kinds[static_cast<std::size_t>(k)]; }

  // Caller holds mutex_.
  void mark_cancelled_queued(queued_job& job) {
    job.state->ph = phase::finished;
    auto& ks = kind_of(job.kind);
    --ks.queued;
    --stats_.queued;
    ++ks.cancelled;
  }

  // Caller does not hold mutex_.
  static void post_completion(queued_job& job, job_status status, std::string error) {
    job.post([task = std::move(job.task), status, error = std::move(error)]() mutable {
      task->deliver(status, std::move(error));
    });
  }

  void worker_main() {
    std::unique_lock lk(mutex_);
    for (;;) {
      cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping: stop() took the queue
      queued_job job = std::move(queue_.front());
      queue_.pop_front();
      waiting_.store(queue_.size(), std::memory_order_relaxed);
      const auto started = clk_.now();
      job.state->ph = phase::running;
      auto& ks = kind_of(job.kind);
      --ks.queued, --stats_.queued;
      ++ks.busy, ++stats_.busy;
      ks.queue_wait.record(elapsed_ns(job.enqueued, started));
      lk.unlock();

      std::string error;
      bool threw = false;
      current_job = {this, job.state.get(), started};
      try {
        job.task->run();
      } catch (const std::exception& e) {
        threw = true;
        error = e.what();
      } catch (...) {
        threw = true;
        error = "unknown exception";
      }
      current_job = {};
      const auto finished = clk_.now();

      lk.lock();
      job.state->ph = phase::finished;
      --ks.busy, --stats_.busy;
      ks.run_time.record(elapsed_ns(started, finished));
      job_status status = job_status::completed;
      if (job.state->cancel_requested) {
        status = job_status::cancelled;
        ++ks.cancelled;
      } else if (threw) {
        status = job_status::failed;
        ++ks.failed;
      } else {
        ++ks.completed;
      }
      lk.unlock();

      if (status == job_status::cancelled) job.task->discard();
      post_completion(job, status, std::move(error));
      lk.lock();
    }
  }

  static std::uint64_t elapsed_ns(loop::time_point from, loop::time_point to) noexcept {
    return to > from ? static_cast<std::uint64_t>((to - from).count()) : 0;
  }

  const unsigned thread_count_;
  const std::size_t capacity_;
  const loop::clock& clk_;
  const loop::duration yield_slice_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable ready_cv_;  // start(): threads that have applied their policy
  unsigned threads_ready_ = 0;
  std::deque<queued_job> queue_;
  std::atomic<std::size_t> waiting_{0};  // queue_.size(), for should_yield()
  std::atomic<bool> stopping_{false};
  pool_stats stats_;
  std::vector<std::thread> threads_;
};

thread_local pool_core::running_job pool_core::current_job;

}  // namespace detail

bool this_job::should_yield() noexcept {
  const auto& job = detail::pool_core::current_job;
  return job.core != nullptr && job.core->should_yield(*job.state, job.started);
}

// --- worker_pool ------------------------------------------------------------------------

namespace {
unsigned resolve_threads(unsigned n) {
  if (n != 0) return n;
  return process::available_parallelism();
}
}  // namespace

worker_pool::worker_pool(pool_options options) {
  const unsigned n = resolve_threads(options.threads);
  const loop::clock& clk = options.clk != nullptr ? *options.clk : loop::system_clock();
  core_ = std::make_shared<detail::pool_core>(n, options.queue_capacity, clk, options.yield_slice);
  core_->start(n, options.nice_increment, options.policy, options.thread_name);
}

worker_pool::~worker_pool() { stop(); }

void worker_pool::stop() { core_->stop(); }

unsigned worker_pool::threads() const noexcept { return core_->thread_count(); }

std::size_t worker_pool::queue_capacity() const noexcept { return core_->capacity(); }

pool_stats worker_pool::stats() const { return core_->stats(); }

unsigned worker_pool::retry_after_seconds() const { return core_->retry_after_seconds(); }

submission worker_pool::submit_task(job_kind kind, std::shared_ptr<detail::task_base> t,
                                    post_fn post) {
  return core_->submit(kind, std::move(t), std::move(post), core_);
}

cancel_result job_handle::cancel() {
  if (!state_) return cancel_result::too_late;
  auto core = core_.lock();
  if (!core) return cancel_result::too_late;
  return core->cancel(state_);
}

}  // namespace nodus::runtime::workers
