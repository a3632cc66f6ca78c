#pragma once
// event_loop: Node's event loop (libuv uv_run + Node's timers and task queues) on top of one
// boost::asio::io_context. One per loop thread; single-threaded: every method except post()
// and stop() must be called on the loop's own thread.
//
// One iteration, as uv_run (docs/loop.md, NODE_COMPAT.md §1):
//   pending → poll (ready Asio handlers) → ≤8 more pending passes → check (immediates)
//   → close → update time + timers
// After every single callback (timer, immediate, Asio completion handler, close or pending
// callback) the loop drains next_tick, then microtasks, repeating while either is non-empty
// (Node's processTicksAndRejections). Asio handlers get this for free: the poll phase runs
// the io_context one handler at a time and drains after each.
//
// Time: the loop caches its time (uv_now) and timers work in whole milliseconds, as libuv.
// On a non-real clock (manual_clock) run() never blocks: when an iteration would have to
// wait for time to pass, run() returns true; advance the clock and call run() again.
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/loop/clock.hpp"
#include "runtime/loop/loop_stats.hpp"

namespace boost::asio {
class io_context;
}

namespace nodus::runtime::loop {

using callback = std::function<void()>;

enum class run_mode {
  run_default,  // until no referenced handle/request is left, or stop()
  once,         // one iteration, blocking in poll if there is nothing else to do
  nowait,       // one iteration, never blocking
};

// Opaque ids; 0 is never issued.
struct timer_id {
  std::uint64_t value = 0;
  friend bool operator==(timer_id, timer_id) = default;
};
struct immediate_id {
  std::uint64_t value = 0;
  friend bool operator==(immediate_id, immediate_id) = default;
};

class event_loop;

struct loop_options {
  // monitorEventLoopDelay({resolution}): an unref'd sampling timer feeding stats().delay.
  // Zero disables it.
  std::chrono::milliseconds delay_resolution{10};
};

// An active handle or request (libuv's notion), counted by type for stats and
// nodejs_active_handles{type}; a referenced one keeps run_default() alive. Move-only RAII.
class active_token {
 public:
  active_token() = default;
  active_token(active_token&& other) noexcept;
  active_token& operator=(active_token&& other) noexcept;
  active_token(const active_token&) = delete;
  active_token& operator=(const active_token&) = delete;
  ~active_token();
  void ref();
  void unref();
  void reset();  // releases the handle now
  explicit operator bool() const noexcept { return loop_ != nullptr; }

 private:
  friend class event_loop;
  active_token(event_loop* loop, std::uint32_t slot, bool ref) : loop_(loop), slot_(slot), ref_(ref) {}
  event_loop* loop_ = nullptr;
  std::uint32_t slot_ = 0;
  bool ref_ = false;
};

class event_loop {
 public:
  // `clk` must outlive the loop. `index` names the loop in stats and logs (loop k of N).
  // Opens three descriptors (epoll, Asio's interrupter, post()'s eventfd); throws a
  // std::runtime_error (std::system_error or boost::system::system_error) if it cannot.
  explicit event_loop(clock& clk = system_clock(), unsigned index = 0);
  event_loop(clock& clk, unsigned index, loop_options options);
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // Runs iterations per `mode`. Returns true if referenced work remains (uv_run's result).
  bool run(run_mode mode = run_mode::run_default);

  // Thread-safe. Makes run() return after the current iteration (uv_stop).
  void stop() noexcept;
  // True while referenced work remains (uv_loop_alive). Loop thread only.
  bool alive() const noexcept;
  // Thread-safe. Runs `cb` on the loop thread in its poll phase (used for worker-pool
  // completions and cross-loop calls). Holds the loop alive until it ran. libuv's
  // uv_async_send: posts are batched behind one wake-up; one made on the loop thread runs
  // after its caller and the caller's drain. Never post to a loop that may be destroyed
  // meanwhile.
  void post(callback cb);

  // The io_context whose handlers run in the poll phase. Sockets and Beast streams use it.
  boost::asio::io_context& io() noexcept;

  // --- Node's API -------------------------------------------------------------------
  // ms outside [1, 2^31-1] becomes 1, as setTimeout does.
  timer_id set_timeout(callback cb, std::int64_t ms);
  timer_id set_interval(callback cb, std::int64_t ms);
  void clear_timer(timer_id id) noexcept;  // clearTimeout and clearInterval (idempotent)
  void ref_timer(timer_id id) noexcept;
  void unref_timer(timer_id id) noexcept;
  bool has_ref(timer_id id) const noexcept;

  immediate_id set_immediate(callback cb);
  void clear_immediate(immediate_id id) noexcept;

  void next_tick(callback cb);
  void queue_microtask(callback cb);

  // Runs `cb` after every callback's next_tick/microtask drain (V8's microtask checkpoint);
  // the managed heap clears its kept WeakRef targets there. Loop thread only.
  void add_checkpoint_observer(callback cb);

  // Called with an exception that escaped a loop callback (Node: 'uncaughtException').
  // Without a handler the exception propagates out of run(), as an uncaught exception ends
  // a Node process. The loop stays consistent either way.
  void set_exception_handler(std::function<void(std::exception_ptr)> handler);

  // libuv's pending queue: runs at the start of the next iteration.
  void defer(callback cb);
  // Close callbacks of this iteration (uv_close's callbacks).
  void on_close(callback cb);

  // A handle ("TCPServerWrap", "TCPSocketWrap", "Timeout", ...) or request ("FSReqCallback",
  // "WorkerJob", ...) for accounting; referenced handles keep run_default() alive.
  active_token track_handle(std::string_view type, bool ref = true);
  active_token track_request(std::string_view type);

  // Loop time (uv_now): cached, updated after poll waits, before the timers phase and when a
  // timer is armed (Node's getLibuvNow() calls uv_update_time).
  time_point now() const noexcept;
  void update_time() noexcept;

  unsigned index() const noexcept;
  // Iterations started so far (uv_metrics loop_count); it increments just before poll, so
  // I/O started during iteration N's poll that completes while iteration() == N completed
  // within the same poll phase (libuv would report it at the next one).
  std::uint64_t iteration() const noexcept;
  // The loop running on the calling thread, or nullptr.
  static event_loop* current() noexcept;

  // A consistent copy of this loop's statistics (loop thread only). Active timers count as
  // "Timeout" and immediates as "Immediate" in stats().active_resources, as Node's
  // process.getActiveResourcesInfo(); active_handles/requests hold only tracked handles.
  loop_stats stats() const;
  // Resets the event-loop-delay histogram (monitorEventLoopDelay().reset()).
  void reset_delay_histogram() noexcept;

 private:
  friend class active_token;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nodus::runtime::loop
