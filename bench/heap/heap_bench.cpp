// Heap benchmarks (loadtest/bench_heap.sh runs them beside loadtest/bench/heap_node.js):
//   BM_heap_allocate_raw / BM_heap_allocate / BM_malloc_free: a 32-byte object — raw bump
//   allocation (no handle), the same with a local handle, and malloc+free.
//   BM_scavenge: scavenge pause of a full 16 MiB semi-space vs survival rate (p50/p99 of
//   the wall-clock pause, and of the thread CPU time of the GC).
//   BM_allocation_workload: short-lived objects with a small long-lived set — minor-GC pause
//   p50/p99 and GC time per GB allocated, the figures Node's --trace-gc gives.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "runtime/heap/heap.hpp"

namespace heap = nodus::runtime::heap;

namespace {

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Raw allocation (V8's AllocateRaw + header and length initialisation): a bump in new space,
// no handle. The objects die at once; the scavenges this triggers (one per 1 MiB, nothing
// survives) are part of the measured cost.
void BM_heap_allocate_raw(benchmark::State& state) {
  heap::heap h;
  for (auto _ : state) {
    for (int i = 0; i < 256; ++i) {
      heap::byte_array_object* b = h.new_byte_array_raw(8);  // 16-byte header + length + 8 = 32
      if (b == nullptr) state.SkipWithError("out of memory");
      benchmark::DoNotOptimize(b);  // also a memory clobber: the object's stores happen
    }
  }
  state.SetItemsProcessed(state.iterations() * 256);
  state.counters["object_bytes"] = static_cast<double>(heap::byte_array_object::size_for(8));
}
BENCHMARK(BM_heap_allocate_raw);

// The same allocation through the handle API: each object also gets a local handle (a second
// bump, in the innermost handle scope) and a result<local<>>.
void BM_heap_allocate(benchmark::State& state) {
  heap::heap h;
  for (auto _ : state) {
    heap::handle_scope scope(h);
    for (int i = 0; i < 256; ++i) {
      auto b = h.new_byte_array(8);  // 16-byte header + length + 8 bytes = 32 bytes
      if (!b) state.SkipWithError("out of memory");
      benchmark::DoNotOptimize(b);
    }
  }
  state.SetItemsProcessed(state.iterations() * 256);
  state.counters["object_bytes"] = static_cast<double>(heap::byte_array_object::size_for(8));
}
BENCHMARK(BM_heap_allocate);

void BM_malloc_free(benchmark::State& state) {
  for (auto _ : state) {
    for (int i = 0; i < 256; ++i) {
      void* p = std::malloc(32);
      benchmark::DoNotOptimize(p);
      std::free(p);
    }
  }
  state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_malloc_free);

// Fills new space (16 MiB semi-space) with 40/48-byte objects of which `survival`% stay
// reachable, then times one scavenge. Layout 0: survivors form a linked chain from one handle
// (a serial pointer chase: the worst case for a copying collector); layout 1: an old array
// refers to each survivor (independent references, as a cache or a request table).
void BM_scavenge(benchmark::State& state) {
  heap::heap_options o;
  o.semi_space_bytes = 16 * heap::mib;
  o.max_semi_space_bytes = 16 * heap::mib;
  heap::heap h(o);
  heap::handle_scope scope(h);
  const auto every = static_cast<std::size_t>(100 / state.range(0));
  const bool chained = state.range(1) == 0;
  auto table = h.new_array(400000).value();  // large: lives in large-object space
  std::vector<double> pauses, cpu;
  double live = 0;
  for (auto _ : state) {
    heap::local<> chain = scope.make(heap::value::null());
    std::uint32_t n = 0;
    {
      heap::handle_scope fill(h);
      // Leave room so the fill itself never scavenges.
      for (std::size_t i = 0; h.young_used_bytes() + 4096 < h.new_space_capacity_bytes(); ++i) {
        heap::handle_scope one(h);
        if (i % every == 0) {
          auto c = h.new_context(heap::value::null(), 1).value();  // 40 bytes
          if (chained) {
            c->slots()[0] = chain.get();  // young→young: no barrier needed
            *chain.slot() = c.get();
          } else {
            (void)h.array_set(table, n++, c.get());
          }
        } else {
          benchmark::DoNotOptimize(h.new_byte_array(24));  // 48 bytes
        }
      }
    }
    const auto before = h.tracer().event_count();
    const double cpu_start = thread_cpu_ms();
    h.collect_garbage(heap::gc_kind::minor);
    cpu.push_back(thread_cpu_ms() - cpu_start);
    const auto& e = h.tracer().recent().back();
    if (h.tracer().event_count() != before + 1) state.SkipWithError("unexpected GC during fill");
    const double ms = std::chrono::duration<double, std::milli>(e.pause).count();
    pauses.push_back(ms);
    live = static_cast<double>(e.copied_bytes + e.promoted_bytes);
    state.SetIterationTime(ms / 1000.0);
    *chain.slot() = heap::value::null();
    for (std::uint32_t i = 0; i < n; ++i) (void)h.array_set(table, i, heap::value::null());
  }
  state.counters["p50_ms"] = percentile(pauses, 0.50);
  state.counters["p99_ms"] = percentile(pauses, 0.99);
  // Thread CPU time of the collect_garbage call (the pause plus the tracer's bookkeeping):
  // unlike the wall-clock pause, it does not count time this thread was preempted.
  state.counters["cpu_p50_ms"] = percentile(cpu, 0.50);
  state.counters["cpu_p99_ms"] = percentile(cpu, 0.99);
  state.counters["live_bytes"] = live;
  state.counters["copy_GBps"] = live / 1e9 / (percentile(pauses, 0.5) / 1000.0);
}
BENCHMARK(BM_scavenge)
    ->ArgsProduct({{5, 10, 20}, {0, 1}})
    ->ArgNames({"survival", "layout"})
    ->UseManualTime()
    ->Iterations(50)
    ->Unit(benchmark::kMillisecond);

// The allocation workload (same as loadtest/bench/heap_node.js):
//   for i in 0..N: o = {a: i, b: [i, i + 1], s: 'x'}; every 1000th o replaces an entry of a
//   10,000-entry long-lived array.
void BM_allocation_workload(benchmark::State& state) {
  const auto n = static_cast<std::int32_t>(state.range(0));
  std::vector<double> minor_pauses;
  double gc_ms = 0, allocated = 0;
  for (auto _ : state) {
    heap::heap h;
    std::size_t last_after = 0;
    h.set_gc_observer([&](const heap::gc_event& e) {
      const double ms = std::chrono::duration<double, std::milli>(e.pause).count();
      if (e.kind == heap::gc_kind::minor) minor_pauses.push_back(ms);
      gc_ms += ms;
      allocated += static_cast<double>(e.used_before_bytes - std::min(e.used_before_bytes, last_after));
      last_after = e.used_after_bytes;
    });
    heap::handle_scope scope(h);
    heap::persistent<> key_a(h, (h.new_string("a").value()).get());
    heap::persistent<> key_b(h, (h.new_string("b").value()).get());
    heap::persistent<> key_s(h, (h.new_string("s").value()).get());
    heap::persistent<> x(h, (h.new_string("x").value()).get());
    auto keep = h.new_array(10000).value();
    for (std::uint32_t i = 0; i < 10000; ++i) (void)h.array_set(keep, i, heap::value::null());
    for (std::int32_t i = 0; i < n; ++i) {
      heap::handle_scope iteration(h);
      auto o = h.new_object(3).value();
      auto b = h.new_array(2).value();
      (void)h.array_push(b, heap::value::integer(i));
      (void)h.array_push(b, heap::value::integer(i + 1));
      (void)h.set_property(o, key_a.as_local().cast<heap::string_object>(), heap::value::integer(i));
      (void)h.set_property(o, key_b.as_local().cast<heap::string_object>(), b.get());
      (void)h.set_property(o, key_s.as_local().cast<heap::string_object>(), x.get());
      if (i % 1000 == 0) (void)h.array_set(keep, static_cast<std::uint32_t>(i / 1000 % 10000), o.get());
    }
    allocated += static_cast<double>(h.statistics().used_heap_size - std::min(h.statistics().used_heap_size, last_after));
  }
  state.counters["minor_gcs"] = static_cast<double>(minor_pauses.size());
  state.counters["minor_p50_ms"] = percentile(minor_pauses, 0.50);
  state.counters["minor_p99_ms"] = percentile(minor_pauses, 0.99);
  state.counters["gc_ms_per_GB"] = allocated > 0 ? gc_ms / (allocated / 1e9) : 0;
  state.counters["allocated_MB"] = allocated / 1e6;
}
BENCHMARK(BM_allocation_workload)->Arg(5'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
