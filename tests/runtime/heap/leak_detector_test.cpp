// leak_detector: synthetic GC event sequences, then the detector as the heap feeds it.
#include "runtime/heap/leak_detector.hpp"

#include <catch2/catch.hpp>

#include <initializer_list>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

namespace {

constexpr std::size_t kib = 1024;

gc_event major_after(std::size_t used_after, std::uint64_t sequence) {
  gc_event e;
  e.kind = gc_kind::major;
  e.sequence = sequence;
  e.used_after_bytes = used_after;
  return e;
}

// Feeds one major GC per sample; returns the sequence numbers whose event started a suspicion.
std::vector<std::uint64_t> feed(leak_detector& d, std::initializer_list<std::size_t> samples,
                                std::uint64_t first_sequence = 1) {
  std::vector<std::uint64_t> started;
  std::uint64_t seq = first_sequence;
  for (const std::size_t s : samples) {
    if (d.record(major_after(s, seq))) started.push_back(seq);
    ++seq;
  }
  return started;
}

}  // namespace

TEST_CASE("leak_detector: five growing major GCs adding up to the threshold start a suspicion, once",
          "[heap][leak]") {
  leak_detector d;  // 5 increases, 1 MiB, 64 KiB noise
  // Baseline 4 MiB, then +512 KiB per GC: the fifth increase is the first to qualify.
  const auto started = feed(d, {4 * mib, 4 * mib + 512 * kib, 5 * mib, 5 * mib + 512 * kib, 6 * mib,
                                6 * mib + 512 * kib, 7 * mib, 7 * mib + 512 * kib});
  REQUIRE(started == std::vector<std::uint64_t>{6});
  const leak_status& s = d.status();
  CHECK(s.suspected);
  CHECK(s.suspicions == 1);
  CHECK(s.suspected_since_gc == 6);
  CHECK(s.growing_gcs == 7);
  CHECK(s.run_start_bytes == 4 * mib);
  CHECK(s.growth_bytes == 3 * mib + 512 * kib);
  CHECK(s.last_used_after_bytes == 7 * mib + 512 * kib);
  CHECK(s.major_gcs_seen == 8);
}

TEST_CASE("leak_detector: four increases are not enough, nor is growth under the threshold", "[heap][leak]") {
  leak_detector d;
  CHECK(feed(d, {1 * mib, 2 * mib, 3 * mib, 4 * mib, 5 * mib}).empty());
  CHECK_FALSE(d.suspected());
  CHECK(d.status().growing_gcs == 4);

  // A cache warming up: many increases of 100 KiB, but the run stops short of 1 MiB.
  leak_detector warm;
  CHECK(feed(warm, {8 * mib, 8 * mib + 100 * kib, 8 * mib + 200 * kib, 8 * mib + 300 * kib,
                    8 * mib + 400 * kib, 8 * mib + 500 * kib, 8 * mib + 600 * kib})
            .empty());
  CHECK_FALSE(warm.suspected());
  CHECK(warm.status().growing_gcs == 6);
  CHECK(warm.status().growth_bytes == 600 * kib);
}

TEST_CASE("leak_detector: minor GCs are ignored", "[heap][leak]") {
  leak_detector d;
  gc_event minor;
  minor.kind = gc_kind::minor;
  for (std::size_t i = 0; i < 20; ++i) {
    minor.used_after_bytes = (i + 1) * 10 * mib;  // garbage not yet collected looks like growth
    CHECK_FALSE(d.record(minor));
  }
  CHECK(d.status().major_gcs_seen == 0);
  CHECK(d.status().growing_gcs == 0);
  CHECK_FALSE(d.suspected());
}

TEST_CASE("leak_detector: changes within the noise band neither count nor reset", "[heap][leak]") {
  leak_detector d;
  // Back-to-back forced GCs (equal samples) and jitter of a few KiB between real increases.
  const auto started = feed(d, {2 * mib, 2 * mib, 2 * mib + 10 * kib, 3 * mib, 3 * mib, 3 * mib - 30 * kib,
                                4 * mib, 5 * mib, 5 * mib + 1 * kib, 6 * mib, 7 * mib});
  REQUIRE(started.size() == 1);
  CHECK(started[0] == 11);
  CHECK(d.status().growing_gcs == 5);
  CHECK(d.status().growth_bytes == 5 * mib);
}

TEST_CASE("leak_detector: a slow leak accumulates until it clears the noise band", "[heap][leak]") {
  leak_detector_options o;
  o.growing_gcs = 3;
  o.min_growth_bytes = 256 * kib;
  o.noise_bytes = 64 * kib;
  leak_detector d(o);
  // +40 KiB per GC: each step alone is noise, but the reference stays put, so every second
  // GC counts as one increase of 80 KiB.
  std::vector<std::uint64_t> started;
  for (std::uint64_t i = 0; i < 20; ++i) {
    if (d.record(major_after(1 * mib + i * 40 * kib, i + 1))) started.push_back(i + 1);
  }
  REQUIRE(started.size() == 1);
  // Increases at GCs 3, 5, 7, 9 (80 KiB each); the 4th brings the run to 320 KiB >= 256 KiB.
  CHECK(started[0] == 9);
}

TEST_CASE("leak_detector: a decline ends the suspicion, and a new run can start another", "[heap][leak]") {
  leak_detector d;
  REQUIRE(feed(d, {1 * mib, 2 * mib, 3 * mib, 4 * mib, 5 * mib, 6 * mib}).size() == 1);
  REQUIRE(d.suspected());
  // The leak is fixed: back to the baseline.
  CHECK(feed(d, {1 * mib}, 7).empty());
  CHECK_FALSE(d.suspected());
  CHECK(d.status().growing_gcs == 0);
  CHECK(d.status().run_start_bytes == 1 * mib);
  CHECK(d.status().suspected_since_gc == 0);
  // Leaking again starts a second suspicion (and a second log line).
  const auto again = feed(d, {2 * mib, 3 * mib, 4 * mib, 5 * mib, 6 * mib, 7 * mib}, 8);
  REQUIRE(again == std::vector<std::uint64_t>{12});
  CHECK(d.status().suspicions == 2);

  // A real decline in the middle of a run restarts it from the lower sample.
  leak_detector r;
  CHECK(feed(r, {10 * mib, 11 * mib, 12 * mib, 13 * mib, 9 * mib, 10 * mib, 11 * mib, 12 * mib, 13 * mib}).empty());
  CHECK(r.status().run_start_bytes == 9 * mib);
  CHECK(r.status().growing_gcs == 4);
  CHECK(feed(r, {14 * mib}, 10) == std::vector<std::uint64_t>{10});
}

TEST_CASE("leak_detector: the heap feeds it after every major GC", "[heap][leak]") {
  heap_options o = testing::small_options();
  o.leak_detection.growing_gcs = 3;
  o.leak_detection.min_growth_bytes = 96 * kib;
  o.leak_detection.noise_bytes = 8 * kib;
  testing::checked_heap c(o);
  persistent<array_object> retained;
  {
    handle_scope scope(c.h);
    retained = persistent<array_object>(c.h, c.h.new_array().value());
  }
  c.h.collect_garbage(gc_kind::major);
  const std::size_t baseline = c.h.leaks().status().last_used_after_bytes;
  CHECK(baseline == c.h.old_generation_used_bytes());

  // Each round retains 40 KiB more; garbage of the same size is allocated and dropped.
  for (int round = 0; round < 4; ++round) {
    handle_scope inner(c.h);
    for (int i = 0; i < 10; ++i) {
      REQUIRE(c.h.array_push(retained.as_local(), c.h.new_byte_array(4 * kib).value().get()));
      REQUIRE(c.h.new_byte_array(4 * kib));
    }
    c.h.collect_garbage(gc_kind::minor);  // ignored by the detector
    c.h.collect_garbage(gc_kind::major);
  }
  const leak_status& s = c.h.leaks().status();
  CHECK(s.major_gcs_seen == 5);
  CHECK(s.growing_gcs == 4);
  CHECK(s.suspected);
  CHECK(s.suspicions == 1);
  CHECK(s.run_start_bytes == baseline);
  CHECK(s.growth_bytes >= 160 * kib);

  // The fix: drop the array; the next major GC returns to (at most) the baseline and clears it.
  retained.reset();
  c.h.collect_garbage(gc_kind::major);
  CHECK_FALSE(c.h.leaks().suspected());
  CHECK(c.h.leaks().status().last_used_after_bytes < baseline);  // the empty array went too
  CHECK(c.h.leaks().status().growing_gcs == 0);
  CHECK(c.findings.empty());
}

}  // namespace nodus::runtime::heap
