#include "runtime/workers/worker_pool.hpp"

#include <catch2/catch.hpp>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/loop/event_loop.hpp"

namespace w = nodus::runtime::workers;
namespace loop = nodus::runtime::loop;
using namespace std::chrono_literals;

namespace {

// Stands in for a loop: completions queue here until the test runs them on its own thread.
class inbox {
 public:
  w::post_fn poster() {
    return [this](std::function<void()> cb) {
      {
        std::lock_guard lk(mutex_);
        queue_.push_back(std::move(cb));
      }
      cv_.notify_all();
    };
  }
  // Runs `n` completions in order, waiting for each (a hang guard, not a timing assertion).
  bool run(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      std::function<void()> cb;
      {
        std::unique_lock lk(mutex_);
        if (!cv_.wait_for(lk, 30s, [this] { return !queue_.empty(); })) return false;
        cb = std::move(queue_.front());
        queue_.pop_front();
      }
      cb();
    }
    return true;
  }
  std::size_t size() {
    std::lock_guard lk(mutex_);
    return queue_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

// A job that reports it started, then waits until released.
struct gate {
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  std::future<void> started_f = started.get_future();
};

w::kind_stats kind(const w::pool_stats& s, w::job_kind k) {
  return s.kinds[static_cast<std::size_t>(k)];
}

}  // namespace

TEST_CASE("worker_pool: a job's result reaches done through post, never inline") {
  inbox in;
  w::worker_pool pool({.threads = 2, .queue_capacity = 8});
  std::optional<w::job_outcome<int>> got;
  auto sub = pool.submit(w::job_kind::other, [] { return 6 * 7; },
                         [&](w::job_outcome<int> o) { got = std::move(o); }, in.poster());
  REQUIRE(sub.accepted());
  REQUIRE(sub.handle);
  REQUIRE(in.run(1));
  REQUIRE(got);
  CHECK(got->status == w::job_status::completed);
  CHECK(got->value == 42);
  CHECK(in.size() == 0);
  auto s = pool.stats();
  CHECK(s.threads == 2);
  CHECK(kind(s, w::job_kind::other).completed == 1);
  CHECK(kind(s, w::job_kind::other).run_time.count == 1);
  CHECK(kind(s, w::job_kind::other).queue_wait.count == 1);
}

TEST_CASE("worker_pool: full queue rejects without queueing") {
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 2});
  gate g;
  int ran = 0;
  auto blocker = pool.submit(w::job_kind::hash, [&g] { g.started.set_value(); g.released.wait(); return 0; },
                             [](w::job_outcome<int>) {}, in.poster());
  REQUIRE(blocker.accepted());
  g.started_f.wait();  // the only thread is busy; the queue is empty
  auto a = pool.submit(w::job_kind::hash, [&ran] { return ++ran; }, [](w::job_outcome<int>) {}, in.poster());
  auto b = pool.submit(w::job_kind::hash, [&ran] { return ++ran; }, [](w::job_outcome<int>) {}, in.poster());
  auto c = pool.submit(w::job_kind::image, [&ran] { return ++ran; }, [](w::job_outcome<int>) {}, in.poster());
  CHECK(a.accepted());
  CHECK(b.accepted());
  CHECK(c.status == w::submit_status::queue_full);
  CHECK_FALSE(c.handle);
  auto s = pool.stats();
  CHECK(s.queued == 2);
  CHECK(s.busy == 1);
  CHECK(kind(s, w::job_kind::hash).queued == 2);
  CHECK(kind(s, w::job_kind::hash).busy == 1);
  CHECK(kind(s, w::job_kind::image).rejected == 1);
  CHECK(pool.retry_after_seconds() >= 1);
  g.release.set_value();
  REQUIRE(in.run(3));
  CHECK(ran == 2);
  CHECK(kind(pool.stats(), w::job_kind::hash).completed == 3);
}

TEST_CASE("worker_pool: cancelling a queued job removes it, done gets cancelled") {
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4});
  gate g;
  bool victim_ran = false;
  pool.submit(w::job_kind::other, [&g] { g.started.set_value(); g.released.wait(); return 1; },
              [](w::job_outcome<int>) {}, in.poster());
  g.started_f.wait();
  std::optional<w::job_outcome<int>> got;
  auto sub = pool.submit(w::job_kind::image, [&] { victim_ran = true; return 2; },
                         [&](w::job_outcome<int> o) { got = std::move(o); }, in.poster());
  REQUIRE(sub.accepted());
  CHECK(sub.handle.cancel() == w::cancel_result::removed);
  CHECK(sub.handle.cancel() == w::cancel_result::too_late);
  CHECK_FALSE(got);  // posted, not called inline
  auto s = pool.stats();
  CHECK(s.queued == 0);
  CHECK(kind(s, w::job_kind::image).cancelled == 1);
  CHECK(kind(s, w::job_kind::image).queued == 0);
  REQUIRE(in.run(1));
  REQUIRE(got);
  CHECK(got->status == w::job_status::cancelled);
  CHECK_FALSE(got->value);
  g.release.set_value();
  REQUIRE(in.run(1));
  pool.stop();
  CHECK_FALSE(victim_ran);
}

TEST_CASE("worker_pool: cancelling a running job drops its result") {
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4});
  gate g;
  std::atomic<bool> finished{false};
  std::optional<w::job_outcome<std::string>> got;
  auto sub = pool.submit(
      w::job_kind::hash,
      [&] { g.started.set_value(); g.released.wait(); finished = true; return std::string("digest"); },
      [&](w::job_outcome<std::string> o) { got = std::move(o); }, in.poster());
  g.started_f.wait();
  CHECK(sub.handle.cancel() == w::cancel_result::dropped);
  g.release.set_value();
  REQUIRE(in.run(1));
  CHECK(finished);
  REQUIRE(got);
  CHECK(got->status == w::job_status::cancelled);
  CHECK_FALSE(got->value);
  auto s = kind(pool.stats(), w::job_kind::hash);
  CHECK(s.cancelled == 1);
  CHECK(s.completed == 0);
  CHECK(s.run_time.count == 1);
  CHECK(sub.handle.cancel() == w::cancel_result::too_late);
}

TEST_CASE("worker_pool: a job that throws reports failed with its message") {
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4});
  std::optional<w::job_outcome<int>> got;
  pool.submit(w::job_kind::offload, []() -> int { throw std::runtime_error("boom"); },
              [&](w::job_outcome<int> o) { got = std::move(o); }, in.poster());
  REQUIRE(in.run(1));
  REQUIRE(got);
  CHECK(got->status == w::job_status::failed);
  CHECK(got->error == "boom");
  CHECK(kind(pool.stats(), w::job_kind::offload).failed == 1);
}

TEST_CASE("worker_pool: stop cancels queued jobs, finishes running ones, rejects new ones") {
  inbox in;
  auto pool = std::make_unique<w::worker_pool>(w::pool_options{.threads = 1, .queue_capacity = 8});
  gate g;
  std::vector<w::job_status> statuses;
  auto record = [&](w::job_outcome<int> o) { statuses.push_back(o.status); };
  pool->submit(w::job_kind::other, [&g] { g.started.set_value(); g.released.wait(); return 1; }, record,
               in.poster());
  g.started_f.wait();
  auto queued = pool->submit(w::job_kind::other, [] { return 2; }, record, in.poster());
  pool->submit(w::job_kind::other, [] { return 3; }, record, in.poster());
  std::thread stopper([&] { pool->stop(); });
  REQUIRE(in.run(2));  // the two cancellations are posted before stop() joins
  g.release.set_value();
  stopper.join();
  REQUIRE(in.run(1));
  REQUIRE(statuses.size() == 3);
  CHECK(statuses[0] == w::job_status::cancelled);
  CHECK(statuses[1] == w::job_status::cancelled);
  CHECK(statuses[2] == w::job_status::completed);
  CHECK(kind(pool->stats(), w::job_kind::other).cancelled == 2);
  auto late = pool->submit(w::job_kind::other, [] { return 4; }, record, in.poster());
  CHECK(late.status == w::submit_status::stopped);
  CHECK(kind(pool->stats(), w::job_kind::other).rejected == 1);
  pool.reset();
  CHECK(queued.handle.cancel() == w::cancel_result::too_late);  // the handle outlived the pool
  CHECK(in.size() == 0);
}

TEST_CASE("worker_pool: move-only jobs and completions") {
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4});
  auto input = std::make_unique<int>(20);
  auto scale = std::make_unique<int>(2);
  int got = 0;
  pool.submit(
      w::job_kind::other, [p = std::move(input)] { return std::make_unique<int>(*p + 1); },
      [s = std::move(scale), &got](w::job_outcome<std::unique_ptr<int>> o) { got = **o.value * *s; },
      in.poster());
  REQUIRE(in.run(1));
  CHECK(got == 42);
}

TEST_CASE("worker_pool: queue-wait and run-time histograms read the pool's clock") {
  inbox in;
  loop::manual_clock clk;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4, .clk = &clk});
  gate g;
  // The first job advances the clock by 3 ms while the second waits behind it.
  pool.submit(w::job_kind::image,
              [&] { g.started.set_value(); g.released.wait(); clk.advance(3ms); return 0; },
              [](w::job_outcome<int>) {}, in.poster());
  g.started_f.wait();
  pool.submit(w::job_kind::image, [] { return 0; }, [](w::job_outcome<int>) {}, in.poster());
  g.release.set_value();
  REQUIRE(in.run(2));
  auto s = kind(pool.stats(), w::job_kind::image);
  CHECK(s.run_time.count == 2);
  CHECK(s.run_time.buckets[0] == 1);   // the second job: 0 ns
  CHECK(s.run_time.buckets[12] == 1);  // 3000 us: [2048, 4096)
  CHECK(s.run_time.max_ns == 3'000'000);
  CHECK(s.run_time.sum_ns == 3'000'000);
  CHECK(s.queue_wait.buckets[0] == 1);   // the first job started at once
  CHECK(s.queue_wait.buckets[12] == 1);  // the second waited 3 ms
  CHECK(s.queue_wait.quantile_upper_us(1.0) == 4096);
  CHECK(s.queue_wait.quantile_upper_us(0.0) == 1);
}

TEST_CASE("duration_histogram: bucket bounds") {
  w::duration_histogram h;
  CHECK(h.quantile_upper_us(0.5) == 0);
  h.record(999);          // < 1 us
  h.record(1'000);        // 1 us → [1, 2)
  h.record(1'000'000'000);  // 1 s → [524288, 1048576) us
  h.record(1'000'000'000'000);  // beyond the range → last bucket
  CHECK(h.buckets[0] == 1);
  CHECK(h.buckets[1] == 1);
  CHECK(h.buckets[20] == 1);
  CHECK(h.buckets[w::duration_histogram::bucket_count - 1] == 1);
  CHECK(h.count == 4);
  CHECK(h.quantile_upper_us(0.5) == 2);
}

TEST_CASE("worker_pool: concurrent submitters and cancellers, every done exactly once") {
  inbox in;
  w::worker_pool pool({.threads = 4, .queue_capacity = 64});
  constexpr int per_thread = 2000;
  std::atomic<int> accepted{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < 2; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto sub = pool.submit(w::job_kind::other, [i] { return i; },
                               [](w::job_outcome<int>) {}, in.poster());
        if (sub.accepted()) {
          ++accepted;
          if ((i + t) % 3 == 0) sub.handle.cancel();
        }
      }
    });
  }
  for (auto& t : submitters) t.join();
  REQUIRE(in.run(static_cast<std::size_t>(accepted.load())));
  pool.stop();
  CHECK(in.size() == 0);
  auto s = kind(pool.stats(), w::job_kind::other);
  CHECK(s.submitted == static_cast<std::uint64_t>(accepted.load()));
  CHECK(s.completed + s.cancelled + s.failed == s.submitted);
  CHECK(s.submitted + s.rejected == 2 * per_thread);
  CHECK(s.busy == 0);
  CHECK(s.queued == 0);
}

TEST_CASE("worker_pool: completions run on the submitting event_loop's thread") {
  loop::event_loop ev;
  w::worker_pool pool({.threads = 2, .queue_capacity = 8});
  std::thread::id job_thread, done_thread;
  loop::event_loop* done_loop = nullptr;
  std::optional<w::job_outcome<int>> got;
  pool.submit(w::job_kind::offload, [&job_thread] { job_thread = std::this_thread::get_id(); return 5; },
              [&](w::job_outcome<int> o) {
                done_thread = std::this_thread::get_id();
                done_loop = loop::event_loop::current();
                got = std::move(o);
                ev.stop();
              },
              ev);
  ev.run();
  REQUIRE(got);
  CHECK(got->value == 5);
  CHECK(done_loop == &ev);
  CHECK(done_thread == std::this_thread::get_id());
  CHECK(job_thread != std::this_thread::get_id());
}

TEST_CASE("worker_pool: pool threads run at the submitter's nice plus nice_increment") {
  inbox in;
  errno = 0;
  const int mine = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  REQUIRE(errno == 0);
  for (const int increment : {0, 5, 40}) {
    w::worker_pool pool({.threads = 1, .queue_capacity = 1, .nice_increment = increment});
    std::optional<w::job_outcome<int>> got;
    auto sub = pool.submit(
        w::job_kind::other, [] { return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))); },
        [&](w::job_outcome<int> o) { got = std::move(o); }, in.poster());
    REQUIRE(sub.accepted());
    REQUIRE(in.run(1));
    REQUIRE(got);
    CHECK(got->value == std::min(mine + increment, 19));  // nice values stop at 19
  }
  // The submitting thread itself is untouched: per-thread, not per-process.
  CHECK(::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))) == mine);
}

TEST_CASE("worker_pool: thread_policy::idle runs pool threads under SCHED_IDLE, the submitter untouched") {
  inbox in;
  const int mine = ::sched_getscheduler(0);
  REQUIRE(mine == SCHED_OTHER);
  for (const auto policy : {w::thread_policy::idle, w::thread_policy::normal}) {
    w::worker_pool pool({.threads = 2, .queue_capacity = 2, .policy = policy});
    std::optional<w::job_outcome<int>> got;
    auto sub = pool.submit(
        w::job_kind::other, [] { return ::sched_getscheduler(0); },
        [&](w::job_outcome<int> o) { got = std::move(o); }, in.poster());
    REQUIRE(sub.accepted());
    REQUIRE(in.run(1));
    REQUIRE(got);
    const bool idle = policy == w::thread_policy::idle;
    CHECK(got->value == (idle ? SCHED_IDLE : SCHED_OTHER));
    // Both threads switched before the constructor returned (the job above proves one).
    CHECK(pool.stats().sched_idle_threads == (idle ? 2u : 0u));
  }
  CHECK(::sched_getscheduler(0) == mine);
}

namespace {
// A job for should_yield(): reports whether it was asked to yield when it started, then spins
// until it is asked (true) or 30 s pass (false: a hang guard, not a timing assertion).
struct yield_probe {
  std::promise<bool> started;  // should_yield() at the job's start
  std::future<bool> started_f = started.get_future();
  std::atomic<bool> asked{false};  // the job saw should_yield() turn true (also when dropped)
  auto job() {
    return [this] {
      started.set_value(w::this_job::should_yield());
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < deadline) {
        if (w::this_job::should_yield()) return asked = true;
        std::this_thread::yield();
      }
      return false;
    };
  }
};
}  // namespace

TEST_CASE("worker_pool: this_job::should_yield() is false outside a job and for a job alone") {
  CHECK_FALSE(w::this_job::should_yield());
  inbox in;
  w::worker_pool pool({.threads = 2, .queue_capacity = 4});
  std::optional<w::job_outcome<bool>> got;
  pool.submit(w::job_kind::hash, [] { return w::this_job::should_yield(); },
              [&](w::job_outcome<bool> o) { got = std::move(o); }, in.poster());
  REQUIRE(in.run(1));
  REQUIRE(got);
  CHECK(got->value == false);
}

TEST_CASE("worker_pool: this_job::should_yield() turns true when another job waits for the thread") {
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4});
  yield_probe probe;
  std::optional<w::job_outcome<bool>> first;
  bool second_ran = false;
  pool.submit(w::job_kind::hash, probe.job(), [&](w::job_outcome<bool> o) { first = std::move(o); },
              in.poster());
  CHECK(probe.started_f.get() == false);  // alone: keep going
  pool.submit(w::job_kind::hash, [] { return 1; }, [&](w::job_outcome<int> o) { second_ran = o.value == 1; },
              in.poster());
  REQUIRE(in.run(2));
  REQUIRE(first);
  CHECK(first->value == true);
  CHECK(second_ran);
}

TEST_CASE("worker_pool: a job is asked to yield to a waiting one only after its slice") {
  // A lower bound, not a timing measurement: should_yield() cannot be true sooner.
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4, .yield_slice = 50ms});
  std::promise<void> waiting;
  std::optional<w::job_outcome<std::chrono::nanoseconds>> first;
  const auto start = std::chrono::steady_clock::now();  // the slice starts after this
  pool.submit(w::job_kind::hash,
              [f = waiting.get_future().share(), start] {
                f.wait();  // the second job is queued from here on
                const auto deadline = start + 30s;
                while (!w::this_job::should_yield() && std::chrono::steady_clock::now() < deadline) {
                  std::this_thread::yield();
                }
                return std::chrono::nanoseconds(std::chrono::steady_clock::now() - start);
              },
              [&](w::job_outcome<std::chrono::nanoseconds> o) { first = std::move(o); }, in.poster());
  pool.submit(w::job_kind::hash, [] { return 1; }, [](w::job_outcome<int>) {}, in.poster());
  waiting.set_value();
  REQUIRE(in.run(2));
  REQUIRE(first);
  CHECK(*first->value >= 50ms);
  CHECK(*first->value < 30s);  // it was asked, not timed out
}

TEST_CASE("worker_pool: this_job::should_yield() turns true when the running job is cancelled") {
  inbox in;
  w::worker_pool pool({.threads = 2, .queue_capacity = 4});
  yield_probe probe;
  std::optional<w::job_outcome<bool>> got;
  auto sub = pool.submit(w::job_kind::hash, probe.job(), [&](w::job_outcome<bool> o) { got = std::move(o); },
                         in.poster());
  CHECK(probe.started_f.get() == false);
  CHECK(sub.handle.cancel() == w::cancel_result::dropped);
  REQUIRE(in.run(1));
  REQUIRE(got);
  CHECK(got->status == w::job_status::cancelled);
  CHECK(probe.asked);
  CHECK(kind(pool.stats(), w::job_kind::hash).run_time.count == 1);
}

TEST_CASE("worker_pool: this_job::should_yield() turns true when the pool stops") {
  inbox in;
  w::worker_pool pool({.threads = 1, .queue_capacity = 4});
  yield_probe probe;
  std::optional<w::job_outcome<bool>> got;
  pool.submit(w::job_kind::hash, probe.job(), [&](w::job_outcome<bool> o) { got = std::move(o); }, in.poster());
  CHECK(probe.started_f.get() == false);
  pool.stop();  // joins: returns only once the job has seen should_yield() (or its guard ran out)
  REQUIRE(in.run(1));
  REQUIRE(got);
  CHECK(got->value == true);
}

TEST_CASE("worker_pool: threads are named <thread_name>-<index>, cut to Linux's 15 bytes from the front") {
  inbox in;
  const auto name_of_a_pool_thread = [&](w::pool_options opts) {
    w::worker_pool pool(std::move(opts));
    std::optional<w::job_outcome<std::string>> got;
    pool.submit(w::job_kind::other,
                [] {
                  char name[16] = {};
                  ::pthread_getname_np(::pthread_self(), name, sizeof name);
                  return std::string(name);
                },
                [&](w::job_outcome<std::string> o) { got = std::move(o); }, in.poster());
    REQUIRE(in.run(1));
    REQUIRE(got);
    return got->value.value_or("");
  };
  CHECK(name_of_a_pool_thread({.threads = 1}) == "worker-0");
  CHECK(name_of_a_pool_thread({.threads = 1, .thread_name = "nodus-worker"}) == "nodus-worker-0");
  CHECK(name_of_a_pool_thread({.threads = 1, .thread_name = "a-much-too-long-name"}) == "too-long-name-0");
}
