#include "runtime/heap/gc_tracer.hpp"

#include <unistd.h>

#include <cstdio>

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

using namespace std::chrono_literals;

TEST_CASE("gc_tracer: --trace-gc lines match V8's format exactly", "[heap][trace]") {
  gc_event e;
  e.kind = gc_kind::minor;
  e.reason = gc_reason::allocation_failure;
  e.start = 46ms;
  e.pause = 3810us;
  e.used_before_bytes = static_cast<std::size_t>(3.9 * mib);
  e.committed_before_bytes = 4 * mib;
  e.used_after_bytes = static_cast<std::size_t>(3.6 * mib);
  e.committed_after_bytes = 5 * mib;
  const void* isolate = reinterpret_cast<const void*>(0x258524f0);
  CHECK(format_trace_gc_line(e, 5810, isolate) ==
        "[5810:0x258524f0]       46 ms: Scavenge 3.9 (4.0) -> 3.6 (5.0) MB, 3.81 / 0.00 ms  (average mu = 1.000, "
        "current mu = 1.000) allocation failure; ");
  e.kind = gc_kind::major;
  e.reason = gc_reason::testing;
  e.collector_reason = "GC in old space requested";
  e.start = 540ms;
  e.pause = 3210us;
  e.average_mu = 0.5;
  e.current_mu = 0.25;
  CHECK(format_trace_gc_line(e, 5810, isolate) ==
        "[5810:0x258524f0]      540 ms: Mark-Compact 3.9 (4.0) -> 3.6 (5.0) MB, 3.21 / 0.00 ms  (average mu = 0.500, "
        "current mu = 0.250) testing; GC in old space requested");
}

TEST_CASE("gc_tracer: ring buffer, totals, histogram, mutator utilisation", "[heap][trace]") {
  gc_tracer t(3);
  for (int i = 1; i <= 5; ++i) {
    gc_event e;
    e.kind = i % 2 ? gc_kind::minor : gc_kind::major;
    e.start = std::chrono::milliseconds(100 * i);
    e.pause = std::chrono::microseconds(400 * i);
    e.freed_bytes = 1000;
    t.record(e);
  }
  const auto recent = t.recent();
  REQUIRE(recent.size() == 3);
  CHECK(recent[0].sequence == 3);
  CHECK(recent[2].sequence == 5);
  CHECK(t.totals(gc_kind::minor).count == 3);
  CHECK(t.totals(gc_kind::major).count == 2);
  CHECK(t.totals(gc_kind::minor).total_pause == 400us + 1200us + 2000us);
  CHECK(t.totals(gc_kind::major).max_pause == 1600us);
  CHECK(t.totals(gc_kind::minor).freed_bytes == 3000);
  const pause_histogram& h = t.histogram(gc_kind::minor);
  CHECK(h.count == 3);
  CHECK(h.counts[3] == 1);  // 400 us: (250, 500]
  CHECK(h.counts[5] == 2);  // 1.2 ms, 2.0 ms: (1000, 2500]
  // Major at 200 ms with a 0.8 ms pause after 200 ms of mutator time.
  CHECK(recent[0].current_mu == Approx(1.0 - 0.8 / 200.0).epsilon(1e-3));  // event 3 shows event 2's mu
  CHECK(recent[1].current_mu < 1.0);
}

TEST_CASE("gc_tracer: the heap emits one trace line per GC when trace_gc is on", "[heap][trace]") {
  heap_options o = testing::small_options();
  o.trace_gc = true;
  testing::checked_heap c(o);
  std::vector<std::string> lines;
  c.h.set_trace_sink([&](std::string_view l) { lines.emplace_back(l); });
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::major);
  REQUIRE(lines.size() == 2);
  // The figures vary; the shape must be V8's (std::regex trips a g++ 12 warning under asan).
  const std::string& l = lines[0];
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "[%d:0x", static_cast<int>(::getpid()));
  CHECK(l.starts_with(prefix));
  CHECK(l.find("] ") != std::string::npos);
  CHECK(l.find(" ms: Scavenge ") != std::string::npos);
  CHECK(l.find(") -> ") != std::string::npos);
  CHECK(l.find(" MB, ") != std::string::npos);
  CHECK(l.find(" / 0.00 ms  (average mu = 1.000, current mu = 1.000) ") != std::string::npos);
  CHECK(l.ends_with(" testing; "));
  CHECK(lines[1].find("Mark-Compact") != std::string::npos);
  CHECK(lines[1].ends_with("testing; GC in old space requested"));
}

}  // namespace nodus::runtime::heap
