#pragma once
// worker_pool: a fixed set of threads behind one bounded queue (libuv's threadpool, as an
// object). Loops submit CPU work; every completion is posted back to the submitting loop and
// runs there in its poll phase, so next_tick/microtask draining applies to it.
//
// Contracts for users:
//  - A job runs on a pool thread: it gets and returns plain values (bytes, digests), never
//    touches a managed heap or runs loop code, and must not block on the loop that submitted
//    it. It may post to a loop (event_loop::post is thread-safe), e.g. to say mid-job that
//    a buffer it shares with the loop is free again; what it posts runs on the loop.
//  - `done` runs exactly once, always through `post` (never inline in submit() or cancel()),
//    with job_status::completed and the value, or cancelled / failed and no value.
//  - Queue full → submit() returns submit_status::queue_full and nothing is queued; the caller
//    answers 503 with Retry-After (retry_after_seconds() gives an estimate).
//  - stop() (and the destructor) cancels queued jobs, lets running ones finish, joins. Stop
//    the pool before the loops its completions are posted to are destroyed.
//  - A long job may check this_job::should_yield() between pieces of its work and return
//    early with its state, for the submitter to queue the rest: it holds a thread for at most
//    a slice (yield_slice) while another job waits, and pays no loop round trip per piece.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "runtime/loop/clock.hpp"
#include "runtime/loop/event_loop.hpp"
#include "runtime/workers/pool_stats.hpp"

namespace nodus::runtime::workers {

// Where a completion goes: a thread-safe "run this on the owning loop" (event_loop::post).
using post_fn = std::function<void(std::function<void()>)>;

enum class job_status : std::uint8_t { completed, cancelled, failed };

template <class R>
struct job_outcome {
  job_status status = job_status::cancelled;
  std::optional<R> value;  // set iff status == completed
  std::string error;       // the exception's what() iff status == failed
};

enum class submit_status : std::uint8_t { accepted, queue_full, stopped };
enum class cancel_result : std::uint8_t {
  removed,   // was queued: removed, done() gets cancelled
  dropped,   // is running: it finishes, its result is dropped, done() gets cancelled
  too_late,  // already finished (or never accepted, or the pool is gone)
};

// How pool threads are scheduled against the loops (Linux).
enum class thread_policy : std::uint8_t {
  // SCHED_IDLE: a loop (any normal thread) that becomes runnable on a pool thread's core
  // preempts it at once, and pool threads get only what normal threads leave of a shared
  // core (CFS/EEVDF weight 3 vs 1024). CPU jobs then cannot delay a loop's callbacks.
  idle,
  // The loops' policy, with nice_increment added: a fair share weighted by nice.
  normal,
};

struct pool_options {
  unsigned threads = 0;              // 0 = process::available_parallelism()
  std::size_t queue_capacity = 1024; // jobs waiting (running ones not counted)
  const loop::clock* clk = nullptr;  // queue-wait and run-time measurements; null = system
  // this_job::should_yield() hands a thread to a waiting job only once the running job has run
  // this long: a time slice, as a scheduler's, so jobs that share a thread take turns in
  // slices rather than piece by piece (each turn costs the submitter a loop round trip).
  loop::duration yield_slice = std::chrono::milliseconds(4);
  // Added to each pool thread's nice value (Linux: per thread), so that on a core shared with
  // an event loop the scheduler lets the loop run as soon as it has work: CPU jobs then take
  // what the loops leave instead of delaying their I/O callbacks. 0 = the loops' priority.
  int nice_increment = 0;
  thread_policy policy = thread_policy::normal;  // idle: SCHED_IDLE (then nice does not matter)
  // Pool threads are named "<thread_name>-<index>" (Linux keeps 15 bytes), as top -H, perf
  // and /proc/<pid>/task/*/comm show them.
  std::string thread_name = "worker";
};

namespace this_job {
// On a pool thread inside a job: true when the job should return soon — another job waits
// for a thread and this one has run for pool_options::yield_slice, the job's cancel was
// requested (its client is gone) or the pool is stopping. False outside a job. Lock-free
// (relaxed loads): a hint, checked between pieces of work.
bool should_yield() noexcept;
}  // namespace this_job

namespace detail {
class pool_core;
struct job_state;

// A job and its completion, type-erased. run() is called on a pool thread; deliver() on the
// submitting loop's thread, after run() finished (or without it, when cancelled).
class task_base {
 public:
  virtual ~task_base() = default;
  virtual void run() = 0;
  virtual void discard() noexcept = 0;  // drops a result nobody wants (pool thread)
  virtual void deliver(job_status status, std::string error) = 0;
};

template <class Job, class Done>
class task final : public task_base {
 public:
  using result_type = std::invoke_result_t<Job&>;
  static_assert(!std::is_void_v<result_type>, "a job returns a value (its result)");
  task(Job job, Done done) : job_(std::move(job)), done_(std::move(done)) {}
  void run() override { result_.emplace(job_()); }
  void discard() noexcept override { result_.reset(); }
  void deliver(job_status status, std::string error) override {
    job_outcome<result_type> out;
    out.status = status;
    if (status == job_status::completed) out.value = std::move(result_);
    out.error = std::move(error);
    result_.reset();
    done_(std::move(out));
  }

 private:
  Job job_;
  Done done_;
  std::optional<result_type> result_;
};
}  // namespace detail

// Cancels one submitted job. Thread-safe; outliving the pool is allowed (cancel is too_late).
class job_handle {
 public:
  job_handle() = default;
  cancel_result cancel();
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  friend class worker_pool;
  friend class detail::pool_core;
  job_handle(std::weak_ptr<detail::pool_core> core, std::shared_ptr<detail::job_state> state)
      : core_(std::move(core)), state_(std::move(state)) {}
  std::weak_ptr<detail::pool_core> core_;
  std::shared_ptr<detail::job_state> state_;
};

struct submission {
  submit_status status = submit_status::stopped;
  job_handle handle;  // valid iff accepted
  bool accepted() const noexcept { return status == submit_status::accepted; }
};

class worker_pool {
 public:
  explicit worker_pool(pool_options options = {});
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  // Queues `job` (R() on a pool thread); `done(job_outcome<R>)` is posted through `post`.
  // Job and Done may be move-only. Thread-safe.
  template <class Job, class Done>
  submission submit(job_kind kind, Job&& job, Done&& done, post_fn post) {
    using task_t = detail::task<std::decay_t<Job>, std::decay_t<Done>>;
    auto t = std::make_shared<task_t>(std::forward<Job>(job), std::forward<Done>(done));
    return submit_task(kind, std::move(t), std::move(post));
  }

  // Same, posting the completion to `loop` (event_loop::post: its poll phase). Call on the
  // loop's thread: the job is tracked as an active "WorkerJob" request until done() ran, so
  // the loop stays alive for it, as libuv's uv_queue_work does.
  template <class Job, class Done>
  submission submit(job_kind kind, Job&& job, Done&& done, loop::event_loop& loop) {
    auto finish = [done = std::forward<Done>(done),
                   token = loop.track_request("WorkerJob")](auto outcome) mutable {
      token.reset();
      done(std::move(outcome));
    };
    return submit(kind, std::forward<Job>(job), std::move(finish),
                  post_fn([&loop](std::function<void()> cb) { loop.post(std::move(cb)); }));
  }

  // Cancels queued jobs, waits for running ones, joins the threads. Idempotent.
  void stop();

  unsigned threads() const noexcept;
  std::size_t queue_capacity() const noexcept;
  pool_stats stats() const;
  // A Retry-After hint for a 503: the time to drain the queue at the mean run time, >= 1 s.
  unsigned retry_after_seconds() const;

 private:
  submission submit_task(job_kind kind, std::shared_ptr<detail::task_base> t, post_fn post);
  std::shared_ptr<detail::pool_core> core_;
};

}  // namespace nodus::runtime::workers
