#pragma once
// Node's JS timer layer (lib/internal/timers.js) over one libuv-level timer handle.
//
// nodus follows Node's JS layer rather than plain libuv timers because Node's observable
// order comes from it: per-duration lists (insertion ordered) in a priority queue keyed by
// (list expiry, list id), all due timers of the first list run before the next list, and the
// whole JS layer is driven by ONE uv timer (env->timer_handle()) that fires at most once per
// timers phase. Loop-thread only.
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace nodus::runtime::loop::detail {

using timer_callback = std::function<void()>;

// What the timer layer needs from its loop.
class timer_host {
 public:
  virtual std::int64_t update_now_ms() noexcept = 0;        // getLibuvNow(): uv_update_time + uv_now
  virtual std::int64_t cached_now_ms() const noexcept = 0;  // uv_now()
  virtual void invoke_timer(timer_callback& cb) = 0;        // runs cb; exceptions handled by the loop
  virtual void run_next_ticks() = 0;                        // runNextTicks(): the tick/microtask drain

 protected:
  ~timer_host() = default;
};

class timer_queue {
 public:
  static constexpr std::int64_t timeout_max = 2147483647;  // TIMEOUT_MAX (2^31-1)

  explicit timer_queue(timer_host& host) : host_(host) {}

  // new Timeout(cb, ms, repeat) + insert(): ms outside [1, 2^31-1] becomes 1. Returns the id.
  std::uint64_t start(timer_callback cb, std::int64_t ms, bool repeat);
  void clear(std::uint64_t id) noexcept;  // clearTimeout/clearInterval: unenroll()
  void ref(std::uint64_t id) noexcept;
  void unref(std::uint64_t id) noexcept;
  bool has_ref(std::uint64_t id) const noexcept;

  // The uv timer handle Node drives everything with.
  bool handle_active() const noexcept { return handle_active_; }
  bool handle_ref() const noexcept { return handle_ref_; }
  std::int64_t handle_due_ms() const noexcept { return handle_due_; }

  // Timers phase: if the handle is due at loop time `loop_ms`, runs RunTimers/processTimers.
  // Returns the number of timer callbacks run.
  std::uint64_t run_due(std::int64_t loop_ms);

  std::uint64_t active_count() const noexcept { return active_; }  // armed timers
  std::uint64_t ref_count() const noexcept { return ref_count_; }  // timeoutInfo[0]
  std::uint64_t list_count() const noexcept { return lists_.size(); }

 private:
  static constexpr std::uint32_t npos = 0xffffffffu;
  struct timer_slot {
    timer_callback cb;
    std::int64_t idle_timeout = -1;  // _idleTimeout; -1 once unenrolled
    std::int64_t repeat = 0;         // _repeat
    std::int64_t start = 0;          // _idleStart
    std::uint32_t gen = 0;
    std::uint32_t prev = npos, next = npos;
    bool in_list = false, refed = false, destroyed = true, has_cb = false;
  };
  struct timer_list {
    std::int64_t ms = 0, expiry = 0;
    std::uint64_t id = 0;
    std::uint32_t head = npos, tail = npos;
    std::size_t heap_pos = 0;
  };
  using list_ptr = std::shared_ptr<timer_list>;

  timer_slot* find(std::uint64_t id) noexcept;
  const timer_slot* find(std::uint64_t id) const noexcept;
  std::uint32_t alloc_slot();
  void release_slot(std::uint32_t slot) noexcept;
  void insert(std::uint32_t slot, std::int64_t ms, std::int64_t start);
  void link(timer_list& list, std::uint32_t slot) noexcept;
  void unlink(std::uint32_t slot) noexcept;
  void unenroll(std::uint32_t slot) noexcept;
  void inc_ref() noexcept;
  void dec_ref() noexcept;
  void schedule_handle(std::int64_t ms) noexcept;
  std::int64_t process_timers(std::int64_t now);
  void list_on_timeout(const list_ptr& list, std::int64_t now);
  void release_if_done(std::uint32_t slot) noexcept;

  // timerListQueue: binary min-heap of lists by (expiry, id) with positions, as Node's.
  static bool less(const timer_list& a, const timer_list& b) noexcept;
  void heap_insert(timer_list* list);
  void heap_remove_at(std::size_t pos) noexcept;
  void heap_up(std::size_t pos) noexcept;
  void heap_down(std::size_t pos) noexcept;
  void heap_set(std::size_t pos, timer_list* list) noexcept;

  timer_host& host_;
  std::vector<timer_slot> slots_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::int64_t, list_ptr> lists_;  // timerListMap
  std::vector<timer_list*> heap_;                     // timerListQueue
  std::uint64_t next_list_id_ = 1;                    // timerListId
  std::int64_t next_expiry_ = INT64_MAX;              // nextExpiry
  std::uint64_t ref_count_ = 0;
  std::uint64_t active_ = 0;
  std::uint64_t fired_ = 0;
  bool handle_active_ = false, handle_ref_ = false;
  std::int64_t handle_due_ = 0;
};

}  // namespace nodus::runtime::loop::detail
