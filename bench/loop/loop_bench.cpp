// Dispatch cost of the loop's queues, the same counts as loadtest/bench/loop_node.js runs in
// Node: each benchmark iteration schedules N callbacks and runs the loop until they all ran.
// loadtest/bench_loop.sh runs both side by side and writes loadtest/results/loop.md.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

#include "runtime/loop/event_loop.hpp"

using namespace nodus::runtime::loop;

namespace {

constexpr std::int64_t n_ops = 1'000'000;

// next_tick: N ticks queued from one callback, drained after it.
void bm_next_tick(benchmark::State& state) {
  event_loop loop(system_clock(), 0, loop_options{std::chrono::milliseconds(0)});
  std::int64_t ran = 0;
  for (auto _ : state) {
    loop.set_immediate([&] {
      for (std::int64_t i = 0; i < n_ops; ++i) loop.next_tick([&ran] { ++ran; });
    });
    loop.run();
  }
  benchmark::DoNotOptimize(ran);
  state.SetItemsProcessed(state.iterations() * n_ops);
}

void bm_microtask(benchmark::State& state) {
  event_loop loop(system_clock(), 0, loop_options{std::chrono::milliseconds(0)});
  std::int64_t ran = 0;
  for (auto _ : state) {
    loop.set_immediate([&] {
      for (std::int64_t i = 0; i < n_ops; ++i) loop.queue_microtask([&ran] { ++ran; });
    });
    loop.run();
  }
  benchmark::DoNotOptimize(ran);
  state.SetItemsProcessed(state.iterations() * n_ops);
}

// setImmediate: N immediates, each run in check with a (empty) drain after it.
void bm_immediate(benchmark::State& state) {
  event_loop loop(system_clock(), 0, loop_options{std::chrono::milliseconds(0)});
  std::int64_t ran = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < n_ops; ++i) loop.set_immediate([&ran] { ++ran; });
    loop.run();
  }
  benchmark::DoNotOptimize(ran);
  state.SetItemsProcessed(state.iterations() * n_ops);
}

// setTimeout: N timers inserted (1 ms, one list, as Node's setTimeout(fn, 1)) then fired.
void bm_timer_insert_fire(benchmark::State& state) {
  event_loop loop(system_clock(), 0, loop_options{std::chrono::milliseconds(0)});
  std::int64_t ran = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < n_ops; ++i) loop.set_timeout([&ran] { ++ran; }, 1);
    loop.run();
  }
  benchmark::DoNotOptimize(ran);
  state.SetItemsProcessed(state.iterations() * n_ops);
}

// N timers spread over 100 durations (100 lists), as a mixed workload.
void bm_timer_insert_fire_mixed(benchmark::State& state) {
  event_loop loop(system_clock(), 0, loop_options{std::chrono::milliseconds(0)});
  std::int64_t ran = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < n_ops; ++i) loop.set_timeout([&ran] { ++ran; }, 1 + i % 100);
    loop.run();
  }
  benchmark::DoNotOptimize(ran);
  state.SetItemsProcessed(state.iterations() * n_ops);
}

}  // namespace

BENCHMARK(bm_next_tick)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_microtask)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_immediate)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_timer_insert_fire)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_timer_insert_fire_mixed)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
