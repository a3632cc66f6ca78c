// Loop statistics and the delay histogram.
#include "runtime/loop/delay_histogram.hpp"
#include "runtime/loop/event_loop.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace nodus::runtime::loop;
using namespace std::chrono_literals;

TEST_CASE("delay_histogram: exact moments, percentiles within relative error", "[stats]") {
  delay_histogram h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);
  CHECK(h.count() == 1000);
  CHECK(h.min() == 1000);
  CHECK(h.max() == 1000000);
  CHECK(h.mean() == Approx(500500.0));
  CHECK(h.stddev() == Approx(288674.9).epsilon(0.001));
  CHECK(h.percentile(50) == Approx(500000.0).epsilon(0.01));
  CHECK(h.percentile(99) == Approx(990000.0).epsilon(0.01));
  CHECK(h.percentile(100) == 1000000);
  h.record(std::uint64_t{1} << 50);
  CHECK(h.exceeds() == 1);
  h.reset();
  CHECK(h.count() == 0);
  CHECK(h.percentile(50) == 0);
}

TEST_CASE("stats count iterations, callbacks per phase, queues and resources", "[stats]") {
  manual_clock clk;
  event_loop loop(clk, 3, loop_options{0ms});
  auto t = loop.set_timeout([] {}, 5);
  auto unref = loop.set_timeout([] {}, 50);
  loop.unref_timer(unref);
  loop.set_immediate([] {});
  loop.next_tick([] {});
  auto req = loop.track_request("FSReqCallback");
  auto s = loop.stats();
  CHECK(s.index == 3);
  CHECK(s.queues.timers == 2);
  CHECK(s.queues.timer_lists == 2);
  CHECK(s.queues.immediates == 1);
  CHECK(s.queues.next_ticks == 1);
  CHECK(s.active_resources.at("Timeout") == 1);  // the unref'd timer is not listed, as in Node
  CHECK(s.active_resources.at("Immediate") == 1);
  CHECK(s.active_resources.at("FSReqCallback") == 1);
  CHECK(s.active_requests.at("FSReqCallback") == 1);
  req.reset();
  clk.advance(5ms);
  loop.run(run_mode::nowait);
  s = loop.stats();
  CHECK(s.iterations == 1);
  CHECK(s.next_ticks_run == 1);
  CHECK(s.phases[static_cast<std::size_t>(phase::check)].callbacks == 1);
  CHECK(s.phases[static_cast<std::size_t>(phase::timers)].callbacks == 1);
  CHECK(s.timers_run == 1);
  CHECK(s.queues.timers == 1);
  CHECK(s.active_resources.count("Timeout") == 0);
  CHECK_FALSE(loop.has_ref(t));
}

TEST_CASE("the delay monitor samples every resolution and sees a blocked loop", "[stats]") {
  manual_clock clk;
  event_loop loop(clk, 0, loop_options{10ms});
  auto keep = loop.set_interval([] {}, 10);
  for (int i = 0; i < 5; ++i) {
    clk.advance(10ms);
    loop.run(run_mode::nowait);
  }
  loop.set_immediate([&] { clk.advance(100ms); });  // a callback that blocks the loop 100 ms
  clk.advance(10ms);
  loop.run(run_mode::nowait);
  clk.advance(10ms);
  loop.run(run_mode::nowait);
  auto s = loop.stats();
  // Samples are the time between sampler firings (Node's RecordDelta): 10 ms, then 110 ms.
  CHECK(s.delay.resolution_ms == 10);
  CHECK(s.delay.count == 6);
  CHECK(s.delay.min_ns == Approx(10e6).epsilon(0.01));
  CHECK(s.delay.max_ns == Approx(110e6).epsilon(0.01));
  loop.reset_delay_histogram();
  CHECK(loop.stats().delay.count == 0);
  loop.clear_timer(keep);
}

TEST_CASE("utilization: idle is time blocked in poll", "[stats]") {
  event_loop loop;  // real clock: ELU needs real waiting
  loop.set_timeout([] {}, 30);
  loop.run();
  auto s = loop.stats();
  CHECK(s.utilization.idle_ms >= 20);
  CHECK(s.utilization.utilization < 0.5);
  CHECK(s.utilization.idle_ms + s.utilization.active_ms > 29);
}
