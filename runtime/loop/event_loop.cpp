#include "runtime/loop/event_loop.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <ctime>
#include <deque>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "runtime/loop/delay_histogram.hpp"
#include "runtime/loop/timers.hpp"

namespace nodus::runtime::loop {

namespace asio = boost::asio;

namespace {
thread_local event_loop* current_loop = nullptr;

std::int64_t thread_cpu_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t to_ns(duration d) noexcept { return d.count(); }
}  // namespace

struct event_loop::impl final : detail::timer_host {
  impl(event_loop& s, clock& c, unsigned i, loop_options o)
      : self(s), clk(c), index(i), options(o) {
    update_time();
    started = now_tp;
    arm_inbox();
  }
  // Posts that never ran are destroyed here, before the handle slots their captures may
  // release, and outside the lock: a capture whose destructor posts to this loop is dropped.
  ~impl() {
    std::vector<callback> never_run;
    {
      std::lock_guard lk(inbox_mutex);
      inbox_closed = true;
      never_run.swap(inbox);
    }
    never_run.clear();
    posted.clear();
  }

  // --- time (uv_now / uv_update_time) --------------------------------------------------
  void update_time() noexcept {
    now_tp = clk.now();
    now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now_tp.time_since_epoch()).count();
  }
  std::int64_t update_now_ms() noexcept override { update_time(); return now_ms; }
  std::int64_t cached_now_ms() const noexcept override { return now_ms; }

  // --- running callbacks ---------------------------------------------------------------
  void invoke(callback& cb) {
    try {
      cb();
    } catch (...) {
      handle_exception(std::current_exception());
    }
  }
  void handle_exception(std::exception_ptr e) {
    if (!on_exception) std::rethrow_exception(e);
    on_exception(e);
  }
  void invoke_timer(callback& cb) override { invoke(cb); }
  void run_next_ticks() override { drain(); }

  // processTicksAndRejections: all ticks (including ones they queue), then all microtasks
  // (including ones they queue), again while ticks were queued by microtasks.
  void drain() {
    while (!ticks.empty() || !microtasks.empty()) {
      while (!ticks.empty()) {
        callback cb = std::move(ticks.front());
        ticks.pop_front();
        ++ticks_run;
        invoke(cb);
      }
      while (!microtasks.empty()) {
        callback cb = std::move(microtasks.front());
        microtasks.pop_front();
        ++microtasks_run;
        invoke(cb);
      }
    }
    for (auto& observer : checkpoint_observers) invoke(observer);
  }
  // Every callback the loop runs goes through here: callback, then the drain.
  void run_callback(callback& cb, phase ph) {
    ++phases[static_cast<std::size_t>(ph)].callbacks;
    invoke(cb);
    drain();
  }

  // --- phases --------------------------------------------------------------------------
  struct phase_timer {
    impl& m;
    phase ph;
    time_point t0;
    phase_timer(impl& mm, phase p) : m(mm), ph(p), t0(mm.clk.now()) {}
    ~phase_timer() {
      const auto spent = to_ns(m.clk.now() - t0) - m.idle_in_phase_ns;
      m.phases[static_cast<std::size_t>(ph)].time_ns += static_cast<std::uint64_t>(spent > 0 ? spent : 0);
      m.idle_in_phase_ns = 0;
    }
  };

  // uv__run_pending: the queue is taken whole; callbacks deferred meanwhile wait a pass.
  void run_pending() {
    if (pending.empty()) return;
    phase_timer t(*this, phase::pending);
    std::deque<callback> batch;
    batch.swap(pending);
    for (auto& cb : batch) run_callback(cb, phase::pending);
  }

  // processImmediate: the queue is snapshotted, so immediates set during check run next time.
  void run_check() {
    if (immediates.empty()) return;
    phase_timer t(*this, phase::check);
    running_immediates.swap(immediates);
    while (!running_immediates.empty()) {
      immediate_entry entry = std::move(running_immediates.front());
      running_immediates.pop_front();
      if (!entry.cb) continue;  // cleared
      --immediate_count;
      ++immediates_run;
      run_callback(entry.cb, phase::check);
    }
  }

  // uv__run_closing_handles: the closing list is taken whole.
  void run_closing() {
    if (closing.empty()) return;
    phase_timer t(*this, phase::close);
    std::deque<callback> batch;
    batch.swap(closing);
    for (auto& cb : batch) run_callback(cb, phase::close);
  }

  // uv__run_timers over the two uv-level timers nodus has: Node's timer handle and the
  // (unref'd) event-loop-delay sampler.
  void run_timers() {
    if (!timer_due() && !sampler_due()) return;
    phase_timer t(*this, phase::timers);
    if (sampler_due()) sample_delay();
    const std::uint64_t fired = timers.run_due(now_ms);
    timers_run += fired;
    phases[static_cast<std::size_t>(phase::timers)].callbacks += fired;
  }
  bool timer_due() const noexcept { return timers.handle_active() && timers.handle_due_ms() <= now_ms; }
  bool sampler_due() const noexcept { return sampler_active && sampler_due_ms <= now_ms; }

  // ELDHistogram::RecordDelta: the time since the previous firing, in ns.
  void sample_delay() {
    sampler_due_ms = now_ms + options.delay_resolution.count();  // uv_timer_again
    const std::int64_t t = to_ns(clk.now().time_since_epoch());
    if (sampler_prev_ns != 0) {
      const std::int64_t delta = t - sampler_prev_ns;
      if (delta > 0) delay.record(static_cast<std::uint64_t>(delta)); else delay.count_exceed();
    }
    sampler_prev_ns = t;
  }

  void poll(std::int64_t timeout_ms);
  // After each Asio handler run in poll: its drain, or the posts the inbox's handler took.
  void run_poll_handler() {
    if (batch_taken) {
      batch_taken = false;
      run_posts();
      return;
    }
    ++phases[static_cast<std::size_t>(phase::poll)].callbacks;
    drain();
  }
  std::size_t io_call(bool block, std::int64_t timeout_ms) {
    try {
      if (!block) return io.poll_one();
      if (timeout_ms < 0) return io.run_one();
      return io.run_one_for(std::chrono::milliseconds(timeout_ms));
    } catch (...) {
      handle_exception(std::current_exception());
      return 1;  // the handler ran (and threw)
    }
  }

  // uv__backend_timeout + uv__next_timeout: -1 blocks until I/O.
  std::int64_t backend_timeout() const noexcept {
    if (stop_flag.load(std::memory_order_relaxed) || !has_referenced_work() || !pending.empty() ||
        immediate_refs() > 0 || !closing.empty())
      return 0;
    std::int64_t due = -1;
    if (timers.handle_active()) due = timers.handle_due_ms();
    if (sampler_active && (due < 0 || sampler_due_ms < due)) due = sampler_due_ms;
    if (due < 0) return -1;
    return due > now_ms ? due - now_ms : 0;
  }
  std::uint64_t immediate_refs() const noexcept { return immediate_count; }
  bool has_referenced_work() const noexcept {
    return refed_active > 0 || (timers.handle_active() && timers.handle_ref()) ||
           immediate_refs() > 0 || posts.load(std::memory_order_acquire) > 0;
  }
  bool alive() const noexcept {
    return has_referenced_work() || !pending.empty() || !closing.empty();
  }

  event_loop& self;
  clock& clk;
  unsigned index;
  loop_options options;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};

  time_point now_tp{}, started{};
  std::int64_t now_ms = 0;

  std::atomic<bool> stop_flag{false};
  std::atomic<std::uint64_t> posts{0};

  // post()'s inbox (libuv's uv_async_t, which carries Node's threadpool completions): other
  // threads append under inbox_mutex and, unless a wake is already pending, write the eventfd
  // after unlocking. Its readiness is I/O in the poll phase: the handler only takes the
  // inbox whole (a swap) and re-arms; the batch then runs outside Asio, after the loop has
  // accounted its idle time and updated its time (run_poll_handler → run_posts).
  // Waking outside any lock matters on a core shared with the poster: Asio's own post wakes
  // the reactor while holding the scheduler's mutex, so the woken loop preempts the poster
  // only to block on that mutex and switch back (two context switches per post).
  std::mutex inbox_mutex;
  std::vector<callback> inbox;  // guarded by inbox_mutex
  bool wake_pending = false;    // guarded by inbox_mutex: the eventfd was written
  bool inbox_closed = false;    // guarded by inbox_mutex: the loop is being destroyed
  std::vector<callback> posted;  // loop thread: taken from the inbox, run from posted_next on
  std::size_t posted_next = 0;
  bool batch_taken = false;     // loop thread: the Asio handler that just ran was the inbox's
  bool inbox_armed = false;     // loop thread: a wait on the eventfd is outstanding
  asio::posix::stream_descriptor wake_desc{io};  // owns the eventfd
  int wake_fd = open_wake_fd(wake_desc);
  static int open_wake_fd(asio::posix::stream_descriptor& desc) {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "event_loop: eventfd");
    boost::system::error_code ec;
    desc.assign(fd, ec);
    if (ec) {
      ::close(fd);
      throw std::system_error(ec, "event_loop: watching its eventfd");
    }
    return fd;
  }
  void wake() noexcept {
    const std::uint64_t one = 1;
    // EAGAIN only when the counter is near 2^64: it is readable then anyway.
    [[maybe_unused]] const auto n = ::write(wake_fd, &one, sizeof one);
  }
  void request_wake() noexcept {
    bool first = false;
    {
      std::lock_guard lk(inbox_mutex);
      first = !wake_pending;
      wake_pending = true;
    }
    if (first) wake();
  }
  void arm_inbox() {
    wake_desc.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](boost::system::error_code ec) { take_inbox(ec); });
    inbox_armed = true;
  }
  void take_inbox(boost::system::error_code ec);
  void run_posts();

  std::deque<callback> ticks, microtasks, pending, closing;
  struct immediate_entry {
    std::uint64_t id;
    callback cb;
  };
  std::deque<immediate_entry> immediates, running_immediates;  // immediateQueue, outstandingQueue
  std::uint64_t next_immediate_id = 1, immediate_count = 0;

  detail::timer_queue timers{*this};
  std::vector<callback> checkpoint_observers;
  std::function<void(std::exception_ptr)> on_exception;

  struct handle_slot {
    std::string type;
    bool request = false, ref = false, used = false;
  };
  std::vector<handle_slot> slots;
  std::vector<std::uint32_t> free_slots;
  std::uint64_t refed_active = 0;

  // stats
  std::uint64_t iterations = 0, ticks_run = 0, microtasks_run = 0, timers_run = 0, immediates_run = 0;
  std::array<phase_stats, phase_count> phases{};
  std::int64_t idle_ns = 0, idle_in_phase_ns = 0;
  std::uint64_t poll_marker_seen = 0, poll_marker_next = 0;
  bool marker_ran = false;  // the Asio handler poll() just ran was one of its markers
  delay_histogram delay;
  bool sampler_active = false;
  std::int64_t sampler_due_ms = 0, sampler_prev_ns = 0;
};

// The inbox's eventfd became readable: take every post() made since the last time, in one
// swap (no allocation, posters wait for nothing), and re-arm; run_poll_handler runs them. A
// batch left unfinished by an exception that escaped run() runs first: the inbox waits, and
// the eventfd is made readable again so the next poll takes it.
void event_loop::impl::take_inbox(boost::system::error_code ec) {
  inbox_armed = false;
  if (ec == asio::error::operation_aborted) return;  // the loop is being destroyed
  // Unarmed, the next poll re-arms and writes the eventfd (as after a failed re-arm below).
  if (ec) throw std::system_error(ec, "event_loop: waiting on its eventfd");
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(wake_fd, &count, sizeof count);  // a later write is a new edge
  arm_inbox();  // before taking anything: if it throws, the posts wait for that next poll
  if (posted_next < posted.size()) {
    wake();  // wake_pending stays true: the inbox is still owed a pass
  } else {
    posted.clear();  // the spent batch (moved-from callbacks); its capacity goes to the inbox
    posted_next = 0;
    std::lock_guard lk(inbox_mutex);
    posted.swap(inbox);
    wake_pending = false;
  }
  batch_taken = true;
}

// Each post is a poll-phase callback of its own: counted, then drained. If an exception leaves
// run(), the rest of the batch stays and the eventfd is written, so they run at the next poll.
void event_loop::impl::run_posts() {
  struct leftovers {
    impl& m;
    ~leftovers() {
      if (m.posted_next < m.posted.size()) m.request_wake();
    }
  } rewake{*this};
  while (posted_next < posted.size()) {
    callback cb = std::move(posted[posted_next++]);
    posts.fetch_sub(1, std::memory_order_acq_rel);
    run_callback(cb, phase::poll);
  }
}

// The poll phase. libuv calls epoll_wait once per uv__io_poll and runs what it returned.
// Asio has no "wait without running", so nodus waits for (or polls) the first handler, then
// runs two marker-bounded passes: the first runs what was already queued and lets the reactor
// collect everything ready now; the second runs those completions. Whatever the reactor finds
// after that waits behind the second marker for the next iteration's poll.
void event_loop::impl::poll(std::int64_t timeout_ms) {
  phase_timer t(*this, phase::poll);
  if (!inbox_armed) {  // re-arming threw (out of memory) in an earlier poll: try again
    arm_inbox();
    wake();  // whatever was posted meanwhile may have spent its edge
  }
  if (timeout_ms != 0 && clk.is_real()) {
    const auto w0 = clk.now();
    const std::int64_t c0 = thread_cpu_ns();
    marker_ran = false;
    const std::size_t ran = io_call(true, timeout_ms);
    const std::int64_t wall = to_ns(clk.now() - w0), cpu = thread_cpu_ns() - c0;
    // The handler that woke us ran inside run_one_for: its CPU time is active, the rest idle.
    const std::int64_t idle = wall > cpu ? wall - cpu : 0;
    idle_ns += idle;
    idle_in_phase_ns += idle;
    update_time();  // uv__io_poll updates the loop time once epoll_wait returns
    if (ran != 0 && !marker_ran) run_poll_handler();
  }
  for (int pass = 0; pass < 2; ++pass) {
    const std::uint64_t marker = ++poll_marker_next;
    asio::post(io, [this, marker] {
      poll_marker_seen = marker;
      marker_ran = true;
    });
    while (poll_marker_seen != marker) {
      marker_ran = false;
      if (io_call(false, 0) == 0) break;
      // A marker left behind by an exception that escaped an earlier poll is no callback.
      if (!marker_ran) run_poll_handler();
    }
  }
}

// --- active_token ------------------------------------------------------------------------

active_token::active_token(active_token&& o) noexcept : loop_(o.loop_), slot_(o.slot_), ref_(o.ref_) {
  o.loop_ = nullptr;
}

active_token& active_token::operator=(active_token&& o) noexcept {
  if (this != &o) {
    reset();
    loop_ = o.loop_;
    slot_ = o.slot_;
    ref_ = o.ref_;
    o.loop_ = nullptr;
  }
  return *this;
}

active_token::~active_token() { reset(); }

void active_token::ref() {
  if (loop_ == nullptr || ref_) return;
  ref_ = true;
  loop_->impl_->slots[slot_].ref = true;
  ++loop_->impl_->refed_active;
}

void active_token::unref() {
  if (loop_ == nullptr || !ref_) return;
  ref_ = false;
  loop_->impl_->slots[slot_].ref = false;
  --loop_->impl_->refed_active;
}

void active_token::reset() {
  if (loop_ == nullptr) return;
  auto& m = *loop_->impl_;
  if (ref_) --m.refed_active;
  m.slots[slot_] = {};
  m.free_slots.push_back(slot_);
  loop_ = nullptr;
}

// --- event_loop --------------------------------------------------------------------------

event_loop::event_loop(clock& clk, unsigned index) : event_loop(clk, index, loop_options{}) {}

event_loop::event_loop(clock& clk, unsigned index, loop_options options)
    : impl_(std::make_unique<impl>(*this, clk, index, options)) {
  if (options.delay_resolution.count() > 0) {
    impl_->sampler_active = true;
    impl_->sampler_due_ms = impl_->now_ms + options.delay_resolution.count();
  }
}

event_loop::~event_loop() = default;

bool event_loop::run(run_mode mode) {
  impl& m = *impl_;
  event_loop* const outer = current_loop;
  current_loop = this;
  struct restore {
    event_loop* prev;
    ~restore() { current_loop = prev; }
  } restore_current{outer};

  m.drain();  // what the "main script" queued runs before the loop starts, as in Node
  bool r = m.alive();
  if (!r) m.update_time();
  // uv_run: run_default processes timers once before the first iteration.
  if (mode == run_mode::run_default && r && !m.stop_flag.load()) {
    m.update_time();
    m.run_timers();
  }
  while (r && !m.stop_flag.load()) {
    const bool can_sleep = m.pending.empty() && m.immediate_refs() == 0;  // + Node's idle handle
    m.run_pending();
    std::int64_t timeout = 0;
    if ((mode == run_mode::once && can_sleep) || mode == run_mode::run_default) timeout = m.backend_timeout();
    ++m.iterations;
    const std::uint64_t before = m.phases[static_cast<std::size_t>(phase::poll)].callbacks;
    m.poll(timeout);
    // Starvation guard (libuv >= 1.44.2): up to 8 more passes over deferred callbacks.
    for (int pass = 0; pass < 8 && !m.pending.empty(); ++pass) m.run_pending();
    m.run_check();
    m.run_closing();
    m.update_time();
    m.run_timers();
    r = m.alive();
    if (mode != run_mode::run_default) break;
    // A manual clock never advances by itself: rather than spin, hand control back.
    const bool waited_for_nothing = timeout != 0 && !m.clk.is_real() &&
                                    m.phases[static_cast<std::size_t>(phase::poll)].callbacks == before;
    if (waited_for_nothing && !m.timer_due() && m.pending.empty() && m.immediates.empty() && m.closing.empty()) break;
  }
  m.stop_flag.store(false);
  return r;
}

void event_loop::stop() noexcept {
  impl_->stop_flag.store(true);
  try {
    asio::post(impl_->io, [] {});  // wakes a poll blocked in another thread
  } catch (...) {  // allocation failure: the flag is still seen at the next iteration
  }
}

bool event_loop::alive() const noexcept { return impl_->alive(); }

void event_loop::post(callback cb) {
  impl& m = *impl_;
  callback dropped;  // a post during the loop's destruction; destroyed after the unlock
  bool wake = false;
  {
    std::lock_guard lk(m.inbox_mutex);
    if (m.inbox_closed) {
      dropped = std::move(cb);
      return;
    }
    m.inbox.push_back(std::move(cb));
    m.posts.fetch_add(1, std::memory_order_acq_rel);
    wake = !m.wake_pending;
    m.wake_pending = true;
  }
  if (wake) m.wake();
}

boost::asio::io_context& event_loop::io() noexcept { return impl_->io; }

timer_id event_loop::set_timeout(callback cb, std::int64_t ms) {
  return {impl_->timers.start(std::move(cb), ms, false)};
}

timer_id event_loop::set_interval(callback cb, std::int64_t ms) {
  return {impl_->timers.start(std::move(cb), ms, true)};
}

void event_loop::clear_timer(timer_id id) noexcept { impl_->timers.clear(id.value); }
void event_loop::ref_timer(timer_id id) noexcept { impl_->timers.ref(id.value); }
void event_loop::unref_timer(timer_id id) noexcept { impl_->timers.unref(id.value); }
bool event_loop::has_ref(timer_id id) const noexcept { return impl_->timers.has_ref(id.value); }

immediate_id event_loop::set_immediate(callback cb) {
  impl& m = *impl_;
  const std::uint64_t id = m.next_immediate_id++;
  m.immediates.push_back({id, std::move(cb)});
  ++m.immediate_count;
  return {id};
}

// Both queues are in id order, so a cleared immediate is found by binary search.
void event_loop::clear_immediate(immediate_id id) noexcept {
  impl& m = *impl_;
  for (auto* q : {&m.running_immediates, &m.immediates}) {
    auto it = std::lower_bound(q->begin(), q->end(), id.value,
                               [](const impl::immediate_entry& e, std::uint64_t v) { return e.id < v; });
    if (it != q->end() && it->id == id.value && it->cb) {
      it->cb = nullptr;
      --m.immediate_count;
      return;
    }
  }
}

void event_loop::next_tick(callback cb) { impl_->ticks.push_back(std::move(cb)); }
void event_loop::queue_microtask(callback cb) { impl_->microtasks.push_back(std::move(cb)); }
void event_loop::add_checkpoint_observer(callback cb) { impl_->checkpoint_observers.push_back(std::move(cb)); }
void event_loop::set_exception_handler(std::function<void(std::exception_ptr)> handler) {
  impl_->on_exception = std::move(handler);
}
void event_loop::defer(callback cb) { impl_->pending.push_back(std::move(cb)); }
void event_loop::on_close(callback cb) { impl_->closing.push_back(std::move(cb)); }

active_token event_loop::track_handle(std::string_view type, bool ref) {
  impl& m = *impl_;
  std::uint32_t slot = 0;
  if (!m.free_slots.empty()) {
    slot = m.free_slots.back();
    m.free_slots.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(m.slots.size());
    m.slots.emplace_back();
  }
  m.slots[slot] = {std::string(type), false, ref, true};
  if (ref) ++m.refed_active;
  return active_token(this, slot, ref);
}

active_token event_loop::track_request(std::string_view type) {
  active_token token = track_handle(type, true);
  impl_->slots[token.slot_].request = true;
  return token;
}

time_point event_loop::now() const noexcept { return impl_->now_tp; }
void event_loop::update_time() noexcept { impl_->update_time(); }
unsigned event_loop::index() const noexcept { return impl_->index; }
std::uint64_t event_loop::iteration() const noexcept { return impl_->iterations; }
event_loop* event_loop::current() noexcept { return current_loop; }

loop_stats event_loop::stats() const {
  const impl& m = *impl_;
  loop_stats s;
  s.index = m.index;
  s.iterations = m.iterations;
  s.phases = m.phases;
  s.next_ticks_run = m.ticks_run;
  s.microtasks_run = m.microtasks_run;
  s.timers_run = m.timers_run;
  s.immediates_run = m.immediates_run;
  s.queues.timers = m.timers.active_count();
  s.queues.timer_lists = m.timers.list_count();
  s.queues.immediates = m.immediate_count;
  s.queues.next_ticks = m.ticks.size();
  s.queues.microtasks = m.microtasks.size();
  s.queues.pending = m.pending.size();
  s.queues.closing = m.closing.size();
  s.queues.posts = m.posts.load(std::memory_order_acquire);
  for (const auto& slot : m.slots) {
    if (!slot.used) continue;
    ++(slot.request ? s.active_requests : s.active_handles)[slot.type];
    ++s.active_resources[slot.type];
  }
  if (m.timers.ref_count() > 0) s.active_resources["Timeout"] = m.timers.ref_count();
  if (m.immediate_count > 0) s.active_resources["Immediate"] = m.immediate_count;
  const double lifetime_ms = static_cast<double>(to_ns(m.clk.now() - m.started)) / 1e6;
  s.utilization.idle_ms = static_cast<double>(m.idle_ns) / 1e6;
  s.utilization.active_ms = lifetime_ms > s.utilization.idle_ms ? lifetime_ms - s.utilization.idle_ms : 0;
  const double total = s.utilization.idle_ms + s.utilization.active_ms;
  s.utilization.utilization = total > 0 ? s.utilization.active_ms / total : 0;
  s.delay.count = m.delay.count();
  s.delay.exceeds = m.delay.exceeds();
  s.delay.min_ns = static_cast<double>(m.delay.min());
  s.delay.max_ns = static_cast<double>(m.delay.max());
  s.delay.mean_ns = m.delay.mean();
  s.delay.stddev_ns = m.delay.stddev();
  s.delay.p50_ns = static_cast<double>(m.delay.percentile(50));
  s.delay.p90_ns = static_cast<double>(m.delay.percentile(90));
  s.delay.p99_ns = static_cast<double>(m.delay.percentile(99));
  s.delay.resolution_ms = m.sampler_active ? static_cast<double>(m.options.delay_resolution.count()) : 0;
  return s;
}

void event_loop::reset_delay_histogram() noexcept { impl_->delay.reset(); }

}  // namespace nodus::runtime::loop
