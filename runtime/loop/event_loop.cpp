// PROVISIONAL implementation: drives io_context::run(); phases, timers and queues are being
// built in runtime/loop (issue 3). The public API in event_loop.hpp is the contract.
#include "runtime/loop/event_loop.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <deque>
#include <optional>
#include <vector>

namespace nodus::runtime::loop {

namespace {
thread_local event_loop* current_loop = nullptr;
}

struct event_loop::impl {
  explicit impl(clock& c, unsigned i) : clk(c), index(i) {}
  clock& clk;
  unsigned index;
  boost::asio::io_context io{1};
  std::deque<callback> ticks, microtasks;
  struct slot { std::string type; bool request; bool ref; bool used; };
  std::vector<slot> slots;
};

active_token::active_token(active_token&& o) noexcept : loop_(o.loop_), slot_(o.slot_), ref_(o.ref_) {
  o.loop_ = nullptr;
}
active_token& active_token::operator=(active_token&& o) noexcept {
  if (this != &o) {
    reset();
    loop_ = o.loop_; slot_ = o.slot_; ref_ = o.ref_;
    o.loop_ = nullptr;
  }
  return *this;
}
active_token::~active_token() { reset(); }
void active_token::ref() { ref_ = true; }
void active_token::unref() { ref_ = false; }
void active_token::reset() {
  if (loop_ != nullptr) loop_->impl_->slots[slot_].used = false;
  loop_ = nullptr;
}

event_loop::event_loop(clock& clk, unsigned index) : impl_(std::make_unique<impl>(clk, index)) {}
event_loop::~event_loop() = default;

bool event_loop::run(run_mode) {
  current_loop = this;
  auto guard = boost::asio::make_work_guard(impl_->io);
  impl_->io.run();
  current_loop = nullptr;
  return false;
}
void event_loop::stop() noexcept { impl_->io.stop(); }
void event_loop::post(callback cb) { boost::asio::post(impl_->io, std::move(cb)); }
boost::asio::io_context& event_loop::io() noexcept { return impl_->io; }
timer_id event_loop::set_timeout(callback, std::int64_t) { return {}; }
timer_id event_loop::set_interval(callback, std::int64_t) { return {}; }
void event_loop::clear_timer(timer_id) noexcept {}
void event_loop::ref_timer(timer_id) noexcept {}
void event_loop::unref_timer(timer_id) noexcept {}
bool event_loop::has_ref(timer_id) const noexcept { return false; }
immediate_id event_loop::set_immediate(callback cb) { post(std::move(cb)); return {}; }
void event_loop::clear_immediate(immediate_id) noexcept {}
void event_loop::next_tick(callback cb) { post(std::move(cb)); }
void event_loop::queue_microtask(callback cb) { post(std::move(cb)); }
void event_loop::add_checkpoint_observer(callback) {}
void event_loop::defer(callback cb) { post(std::move(cb)); }
void event_loop::on_close(callback cb) { post(std::move(cb)); }
active_token event_loop::track_handle(std::string_view type, bool ref) {
  impl_->slots.push_back({std::string(type), false, ref, true});
  return active_token(this, static_cast<std::uint32_t>(impl_->slots.size() - 1), ref);
}
active_token event_loop::track_request(std::string_view type) {
  impl_->slots.push_back({std::string(type), true, true, true});
  return active_token(this, static_cast<std::uint32_t>(impl_->slots.size() - 1), true);
}
time_point event_loop::now() const noexcept { return impl_->clk.now(); }
void event_loop::update_time() noexcept {}
unsigned event_loop::index() const noexcept { return impl_->index; }
event_loop* event_loop::current() noexcept { return current_loop; }
loop_stats event_loop::stats() const { loop_stats s; s.index = impl_->index; return s; }
void event_loop::reset_delay_histogram() noexcept {}

}  // namespace nodus::runtime::loop
