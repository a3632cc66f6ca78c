#include "runtime/loop/timers.hpp"

#include <utility>

namespace nodus::runtime::loop::detail {

namespace {
constexpr std::uint64_t make_id(std::uint32_t slot, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(gen) << 32) | (static_cast<std::uint64_t>(slot) + 1);
}
}  // namespace

// --- slots ------------------------------------------------------------------------------

timer_queue::timer_slot* timer_queue::find(std::uint64_t id) noexcept {
  const std::uint64_t low = id & 0xffffffffu;
  if (low == 0 || low > slots_.size()) return nullptr;
  timer_slot& s = slots_[low - 1];
  return s.gen == static_cast<std::uint32_t>(id >> 32) ? &s : nullptr;
}

const timer_queue::timer_slot* timer_queue::find(std::uint64_t id) const noexcept {
  return const_cast<timer_queue*>(this)->find(id);  // NOLINT: same lookup, const view
}

std::uint32_t timer_queue::alloc_slot() {
  if (!free_.empty()) {
    const std::uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

// A released slot's generation changes, so stale ids (and a callback still running from a
// released slot) can never touch the slot's next owner.
void timer_queue::release_slot(std::uint32_t slot) noexcept {
  timer_slot& s = slots_[slot];
  s.cb = nullptr;
  s.has_cb = false;
  s.destroyed = true;
  ++s.gen;
  free_.push_back(slot);
}

// --- public API -------------------------------------------------------------------------

std::uint64_t timer_queue::start(timer_callback cb, std::int64_t ms, bool repeat) {
  if (!(ms >= 1 && ms <= timeout_max)) ms = 1;  // Timeout constructor: "follows browser behavior"
  const std::uint32_t slot = alloc_slot();
  timer_slot& s = slots_[slot];
  s.cb = std::move(cb);
  s.has_cb = true;
  s.idle_timeout = ms;
  s.repeat = repeat ? ms : 0;
  s.refed = true;
  s.destroyed = false;
  ++active_;
  inc_ref();
  const std::uint64_t id = make_id(slot, s.gen);
  insert(slot, ms, host_.update_now_ms());  // insert(item, msecs, start = getLibuvNow())
  return id;
}

void timer_queue::clear(std::uint64_t id) noexcept {
  timer_slot* s = find(id);
  if (s == nullptr || s->destroyed) return;
  const auto slot = static_cast<std::uint32_t>(s - slots_.data());
  s->has_cb = false;  // clearTimeout: timer._onTimeout = null
  unenroll(slot);
}

void timer_queue::ref(std::uint64_t id) noexcept {
  timer_slot* s = find(id);
  if (s == nullptr || s->destroyed || s->refed) return;
  s->refed = true;
  inc_ref();
}

void timer_queue::unref(std::uint64_t id) noexcept {
  timer_slot* s = find(id);
  if (s == nullptr || s->destroyed || !s->refed) return;
  s->refed = false;
  dec_ref();
}

bool timer_queue::has_ref(std::uint64_t id) const noexcept {
  const timer_slot* s = find(id);
  return s != nullptr && !s->destroyed && s->refed;
}

// --- Node's insert / unenroll ------------------------------------------------------------

void timer_queue::insert(std::uint32_t slot, std::int64_t ms, std::int64_t start) {
  slots_[slot].start = start;
  list_ptr& list = lists_[ms];
  if (!list) {
    const std::int64_t expiry = start + ms;
    list = std::make_shared<timer_list>();
    list->ms = ms;
    list->expiry = expiry;
    list->id = next_list_id_++;
    heap_insert(list.get());
    if (next_expiry_ > expiry) {
      schedule_handle(ms);
      next_expiry_ = expiry;
    }
  }
  link(*list, slot);
}

void timer_queue::unenroll(std::uint32_t slot) noexcept {
  timer_slot& s = slots_[slot];
  if (s.destroyed) return;
  s.destroyed = true;
  --active_;
  unlink(slot);
  // Node deletes only refed lists ("unrefed ones are incredibly likely to be recreated").
  if (s.refed) {
    auto it = lists_.find(s.idle_timeout);
    if (it != lists_.end() && it->second->head == npos) {
      heap_remove_at(it->second->heap_pos);
      lists_.erase(it);
    }
    dec_ref();
  }
  s.idle_timeout = -1;
  release_if_done(slot);
}

// A slot is reusable once its timer is destroyed and its callback is not running.
void timer_queue::release_if_done(std::uint32_t slot) noexcept {
  timer_slot& s = slots_[slot];
  if (s.destroyed && !s.in_list) release_slot(slot);
}

void timer_queue::link(timer_list& list, std::uint32_t slot) noexcept {
  timer_slot& s = slots_[slot];
  s.prev = list.tail;
  s.next = npos;
  if (list.tail != npos) slots_[list.tail].next = slot; else list.head = slot;
  list.tail = slot;
  s.in_list = true;
}

void timer_queue::unlink(std::uint32_t slot) noexcept {
  timer_slot& s = slots_[slot];
  if (!s.in_list) return;
  auto it = lists_.find(s.idle_timeout);
  timer_list* list = it != lists_.end() ? it->second.get() : nullptr;
  if (s.prev != npos) slots_[s.prev].next = s.next; else if (list) list->head = s.next;
  if (s.next != npos) slots_[s.next].prev = s.prev; else if (list) list->tail = s.prev;
  s.prev = s.next = npos;
  s.in_list = false;
}

void timer_queue::inc_ref() noexcept {
  if (ref_count_++ == 0) handle_ref_ = true;  // toggleTimerRef(true)
}

void timer_queue::dec_ref() noexcept {
  if (--ref_count_ == 0) handle_ref_ = false;  // toggleTimerRef(false)
}

// env->ScheduleTimer(): uv_timer_start against the cached loop time.
void timer_queue::schedule_handle(std::int64_t ms) noexcept {
  handle_due_ = host_.cached_now_ms() + ms;
  handle_active_ = true;
}

// --- RunTimers / processTimers / listOnTimeout ------------------------------------------

std::uint64_t timer_queue::run_due(std::int64_t loop_ms) {
  if (!handle_active_ || handle_due_ > loop_ms) return 0;
  handle_active_ = false;  // uv__run_timers stops a non-repeating handle before its callback
  fired_ = 0;
  const std::int64_t result = process_timers(host_.update_now_ms());  // env->GetNow() updates
  if (result != 0) {
    const std::int64_t expiry = result < 0 ? -result : result;
    const std::int64_t in_ms = expiry - host_.cached_now_ms();
    schedule_handle(in_ms > 0 ? in_ms : 1);
    handle_ref_ = result > 0;
  } else {
    handle_ref_ = false;
  }
  host_.run_next_ticks();  // RunTimers' InternalCallbackScope closes last: the final drain
  return fired_;
}

std::int64_t timer_queue::process_timers(std::int64_t now) {
  next_expiry_ = INT64_MAX;
  bool ran_a_list = false;
  while (!heap_.empty()) {
    timer_list* list = heap_.front();
    if (list->expiry > now) {
      next_expiry_ = list->expiry;
      return ref_count_ > 0 ? next_expiry_ : -next_expiry_;
    }
    if (ran_a_list) host_.run_next_ticks(); else ran_a_list = true;
    list_on_timeout(lists_.at(list->ms), now);
  }
  return 0;
}

void timer_queue::list_on_timeout(const list_ptr& list_ref, std::int64_t now) {
  const list_ptr list = list_ref;  // the map may drop it while callbacks run (Node keeps it by GC)
  bool ran_a_timer = false;
  while (list->head != npos) {
    const std::uint32_t slot = list->head;
    const std::int64_t diff = now - slots_[slot].start;
    if (diff < list->ms) {  // too early: this and every later timer of the list wait
      list->expiry = std::max(slots_[slot].start + list->ms, now + 1);
      list->id = next_list_id_++;
      heap_down(list->heap_pos);
      return;
    }
    const std::uint32_t gen = slots_[slot].gen;
    if (ran_a_timer) host_.run_next_ticks(); else ran_a_timer = true;
    if (slots_[slot].gen != gen || slots_[slot].destroyed) continue;  // cleared by a tick
    unlink(slot);
    timer_callback cb = std::move(slots_[slot].cb);
    // Intervals re-arm from the time their callback started (start = getLibuvNow()).
    const std::int64_t start = slots_[slot].repeat != 0 ? host_.update_now_ms() : 0;
    ++fired_;
    host_.invoke_timer(cb);
    timer_slot& s = slots_[slot];
    if (s.gen != gen) continue;  // cleared (and released) during its callback
    if (s.repeat != 0 && s.idle_timeout != -1) {
      s.cb = std::move(cb);
      s.idle_timeout = s.repeat;
      insert(slot, s.idle_timeout, start);
    } else if (!s.destroyed) {
      s.destroyed = true;
      --active_;
      if (s.refed) --ref_count_;  // processTimers' return value re-refs/unrefs the handle
      release_if_done(slot);
    }
  }
  auto it = lists_.find(list->ms);
  if (it != lists_.end() && it->second == list) {
    heap_remove_at(list->heap_pos);
    lists_.erase(it);
  }
}

// --- the priority queue -----------------------------------------------------------------

bool timer_queue::less(const timer_list& a, const timer_list& b) noexcept {
  return a.expiry != b.expiry ? a.expiry < b.expiry : a.id < b.id;
}

void timer_queue::heap_set(std::size_t pos, timer_list* list) noexcept {
  heap_[pos] = list;
  list->heap_pos = pos;
}

void timer_queue::heap_insert(timer_list* list) {
  heap_.push_back(list);
  list->heap_pos = heap_.size() - 1;
  heap_up(heap_.size() - 1);
}

void timer_queue::heap_remove_at(std::size_t pos) noexcept {
  const std::size_t last = heap_.size() - 1;
  if (pos != last) {
    heap_set(pos, heap_[last]);
    heap_.pop_back();
    if (pos > 0 && less(*heap_[pos], *heap_[(pos - 1) / 2])) heap_up(pos); else heap_down(pos);
  } else {
    heap_.pop_back();
  }
}

void timer_queue::heap_up(std::size_t pos) noexcept {
  timer_list* item = heap_[pos];
  while (pos > 0) {
    const std::size_t parent = (pos - 1) / 2;
    if (!less(*item, *heap_[parent])) break;
    heap_set(pos, heap_[parent]);
    pos = parent;
  }
  heap_set(pos, item);
}

void timer_queue::heap_down(std::size_t pos) noexcept {
  timer_list* item = heap_[pos];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && less(*heap_[child + 1], *heap_[child])) ++child;
    if (!less(*heap_[child], *item)) break;
    heap_set(pos, heap_[child]);
    pos = child;
  }
  heap_set(pos, item);
}

}  // namespace nodus::runtime::loop::detail
