#include "handlers/metrics_families.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>

using namespace nodus::handlers;
namespace prom = prometheus;
namespace http = boost::beast::http;
using nodus::runtime::heap::gc_kind;

namespace {

// Two loops with distinct, known figures.
metrics_input sample_input() {
  metrics_input in;
  in.version = "1.22.333";
  in.process.cpu_user_seconds = 1.5;
  in.process.cpu_system_seconds = 0.25;
  in.process.resident_memory_bytes = 4096;
  in.process.max_fds = 1024;
  in.pool.threads = 3;
  in.pool.kinds[0].submitted = 9;
  in.pool.kinds[0].run_time.record(3'000);            // 3 us: bucket [2, 4) us
  in.pool.kinds[0].run_time.record(100'000'000'000);  // 100 s: the open-ended last bucket
  in.route_patterns = {"(unmatched)", "/hello", "/files/", "/a\"b\\c\nd"};
  for (unsigned k = 0; k < 2; ++k) {
    loop_metrics m;
    m.loop = k;
    m.lag_seconds = 0.001 * (k + 1);
    m.stats.delay.min_ns = 10'000'000;
    m.stats.delay.p99_ns = 20'000'000.0 * (k + 1);
    m.stats.active_handles = {{"TCPServerWrap", 1}, {"TCPSocketWrap", 2 + k}};
    m.heap.used_heap_size = 1000 * (k + 1);
    m.heap.total_heap_size = 4000;
    m.spaces = {{"new_space", 2048, 100, 900, 2048}, {"large_object_space", 0, 0, 0, 0}};
    m.leak_suspected = k == 1;
    auto& minor = m.gc[static_cast<std::size_t>(gc_kind::minor)];
    minor.record(std::chrono::microseconds(500));   // <= 1 ms
    minor.record(std::chrono::microseconds(1000));  // == 1 ms: le="0.001" (inclusive)
    minor.record(std::chrono::microseconds(3000));  // <= 10 ms
    minor.record(std::chrono::seconds(7));          // beyond 5 s: +Inf only
    m.requests.resize(4);
    m.requests[1].responses = {{http::verb::get, 200, 10 + k}, {http::verb::head, 200, 1}};
    m.requests[1].duration.record(100'000);
    m.requests[1].duration.record(2'000'000);
    m.requests[0].responses = {{http::verb::unknown, 400, 1}};
    m.requests[0].duration.record(1);
    m.requests[3].responses = {{http::verb::get, 404, 1}};
    m.requests[3].duration.record(1);
    m.files.files_served = 5 + k;
    in.loops.push_back(std::move(m));
  }
  return in;
}

const prom::MetricFamily& family(const std::vector<prom::MetricFamily>& all,
                                 const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return f;
  }
  FAIL("no family " << name);
  throw std::logic_error("unreachable");
}

std::string label(const prom::ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "<none>";
}

const prom::ClientMetric& sample(const prom::MetricFamily& f,
                                 const std::map<std::string, std::string>& labels) {
  for (const auto& m : f.metric) {
    bool all = true;
    for (const auto& [k, v] : labels) all = all && label(m, k) == v;
    if (all) return m;
  }
  FAIL("no sample in " << f.name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("metric families: prom-client's names, each once, loop label on per-loop values",
          "[handlers][metrics]") {
  const auto all = build_metric_families(sample_input());
  std::set<std::string> names;
  for (const auto& f : all) {
    CHECK(names.insert(f.name).second);  // all samples of a metric together
    CHECK_FALSE(f.help.empty());
  }
  for (const char* name : {"process_cpu_user_seconds_total",
                           "process_cpu_system_seconds_total",
                           "process_cpu_seconds_total",
                           "process_start_time_seconds",
                           "process_resident_memory_bytes",
                           "process_virtual_memory_bytes",
                           "process_heap_bytes",
                           "process_open_fds",
                           "process_max_fds",
                           "nodejs_eventloop_lag_seconds",
                           "nodejs_eventloop_lag_min_seconds",
                           "nodejs_eventloop_lag_max_seconds",
                           "nodejs_eventloop_lag_mean_seconds",
                           "nodejs_eventloop_lag_stddev_seconds",
                           "nodejs_eventloop_lag_p50_seconds",
                           "nodejs_eventloop_lag_p90_seconds",
                           "nodejs_eventloop_lag_p99_seconds",
                           "nodejs_active_handles",
                           "nodejs_active_handles_total",
                           "nodejs_active_requests",
                           "nodejs_active_requests_total",
                           "nodejs_heap_size_total_bytes",
                           "nodejs_heap_size_used_bytes",
                           "nodejs_external_memory_bytes",
                           "nodejs_heap_space_size_total_bytes",
                           "nodejs_heap_space_size_used_bytes",
                           "nodejs_heap_space_size_available_bytes",
                           "nodejs_gc_duration_seconds",
                           "nodus_version_info",
                           "http_requests_total",
                           "http_request_duration_seconds",
                           "nodus_heap_leak_suspected",
                           "nodus_worker_pool_threads",
                           "nodus_worker_job_run_seconds",
                           "nodus_files_served_total"}) {
    CHECK(names.count(name) == 1);
  }
  for (const char* per_loop :
       {"nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes", "nodejs_gc_duration_seconds",
        "nodejs_active_handles_total", "nodus_files_served_total", "nodus_heap_leak_suspected"}) {
    std::set<std::string> loops;
    for (const auto& m : family(all, per_loop).metric) loops.insert(label(m, "loop"));
    CHECK(loops == std::set<std::string>{"0", "1"});
  }
  // Process-wide values carry no loop label.
  CHECK(label(family(all, "process_resident_memory_bytes").metric.at(0), "loop") == "<none>");
  CHECK(label(family(all, "nodus_worker_pool_threads").metric.at(0), "loop") == "<none>");
}

TEST_CASE("metric families carry the stats' values in base units", "[handlers][metrics]") {
  const auto all = build_metric_families(sample_input());
  CHECK(family(all, "process_cpu_seconds_total").metric.at(0).counter.value == 1.75);
  CHECK(family(all, "process_cpu_seconds_total").type == prom::MetricType::Counter);
  CHECK(family(all, "process_max_fds").metric.at(0).gauge.value == 1024);
  CHECK(sample(family(all, "nodejs_heap_size_used_bytes"), {{"loop", "1"}}).gauge.value == 2000);
  CHECK(sample(family(all, "nodejs_eventloop_lag_seconds"), {{"loop", "1"}}).gauge.value == 0.002);
  CHECK(sample(family(all, "nodejs_eventloop_lag_p99_seconds"), {{"loop", "1"}}).gauge.value ==
        Approx(0.04));
  CHECK(sample(family(all, "nodejs_eventloop_lag_min_seconds"), {{"loop", "0"}}).gauge.value ==
        Approx(0.01));
  CHECK(sample(family(all, "nodejs_active_handles"), {{"type", "TCPSocketWrap"}, {"loop", "1"}})
            .gauge.value == 3);
  CHECK(sample(family(all, "nodejs_active_handles_total"), {{"loop", "1"}}).gauge.value == 4);
  CHECK(family(all, "nodejs_active_requests").metric.empty());
  CHECK(sample(family(all, "nodejs_active_requests_total"), {{"loop", "0"}}).gauge.value == 0);
  // Space names lose their "_space" suffix, as prom-client's do.
  const auto& used = family(all, "nodejs_heap_space_size_used_bytes");
  CHECK(sample(used, {{"space", "new"}, {"loop", "0"}}).gauge.value == 100);
  CHECK(sample(used, {{"space", "large_object"}, {"loop", "0"}}).gauge.value == 0);
  CHECK(sample(family(all, "nodejs_heap_space_size_available_bytes"),
               {{"space", "new"}, {"loop", "1"}})
            .gauge.value == 900);
  CHECK(sample(family(all, "nodus_heap_leak_suspected"), {{"loop", "1"}}).gauge.value == 1);
  CHECK(sample(family(all, "nodus_heap_leak_suspected"), {{"loop", "0"}}).gauge.value == 0);
  CHECK(sample(family(all, "nodus_files_served_total"), {{"loop", "1"}}).counter.value == 6);

  const auto& version = family(all, "nodus_version_info").metric.at(0);
  CHECK(version.gauge.value == 1);
  CHECK(label(version, "version") == "v1.22.333");
  CHECK(label(version, "major") == "1");
  CHECK(label(version, "minor") == "22");
  CHECK(label(version, "patch") == "333");
}

TEST_CASE("nodejs_gc_duration_seconds: prom-client's buckets, cumulative, from the tracer",
          "[handlers][metrics]") {
  const auto all = build_metric_families(sample_input());
  const auto& gc = family(all, "nodejs_gc_duration_seconds");
  CHECK(gc.type == prom::MetricType::Histogram);
  CHECK(gc.metric.size() == 4);  // minor and major on each loop
  const auto& minor = sample(gc, {{"kind", "minor"}, {"loop", "0"}}).histogram;
  CHECK(minor.sample_count == 4);
  CHECK(minor.sample_sum == Approx(7.0045));
  REQUIRE(minor.bucket.size() == gc_duration_buckets.size() + 1);
  const std::vector<std::uint64_t> expected{2, 3, 3, 3, 3, 3, 4};
  for (std::size_t i = 0; i < gc_duration_buckets.size(); ++i) {
    CHECK(minor.bucket[i].upper_bound == gc_duration_buckets[i]);
    CHECK(minor.bucket[i].cumulative_count == expected[i]);
  }
  CHECK(std::isinf(minor.bucket.back().upper_bound));
  CHECK(minor.bucket.back().cumulative_count == minor.sample_count);
  const auto& major = sample(gc, {{"kind", "major"}, {"loop", "1"}}).histogram;
  CHECK(major.sample_count == 0);
  CHECK(major.bucket.back().cumulative_count == 0);
}

TEST_CASE("http_* metrics: summed over loops, labelled by route pattern", "[handlers][metrics]") {
  const auto all = build_metric_families(sample_input());
  const auto& total = family(all, "http_requests_total");
  CHECK(total.type == prom::MetricType::Counter);
  CHECK(sample(total, {{"method", "GET"}, {"route", "/hello"}, {"status", "200"}}).counter.value ==
        21);
  CHECK(sample(total, {{"method", "HEAD"}, {"route", "/hello"}, {"status", "200"}}).counter.value ==
        2);
  CHECK(sample(total, {{"method", "OTHER"}, {"route", "(unmatched)"}, {"status", "400"}})
            .counter.value == 2);
  CHECK(sample(total, {{"method", "GET"}, {"route", "/a\"b\\c\nd"}, {"status", "404"}})
            .counter.value == 2);
  CHECK(total.metric.size() == 4);
  for (const auto& m : total.metric) CHECK(label(m, "loop") == "<none>");

  const auto& duration = family(all, "http_request_duration_seconds");
  CHECK(duration.metric.size() == 3);  // routes never answered ("/files/") have no series
  const auto& hello = sample(duration, {{"route", "/hello"}}).histogram;
  CHECK(hello.sample_count == 4);
  CHECK(hello.sample_sum == Approx(0.0042));
  CHECK(hello.bucket.front().upper_bound == 0.0005);
  CHECK(hello.bucket.front().cumulative_count == 2);  // the two 0.1 ms requests
  CHECK(hello.bucket.at(2).upper_bound == 0.0025);
  CHECK(hello.bucket.at(2).cumulative_count == 4);
  CHECK(hello.bucket.back().cumulative_count == 4);
}

TEST_CASE("worker pool histograms keep their bounds, the open bucket is +Inf",
          "[handlers][metrics]") {
  const auto all = build_metric_families(sample_input());
  const auto& run =
      sample(family(all, "nodus_worker_job_run_seconds"), {{"kind", "hash"}}).histogram;
  CHECK(run.sample_count == 2);
  CHECK(run.bucket.at(0).upper_bound == Approx(1e-6));
  CHECK(run.bucket.at(0).cumulative_count == 0);
  CHECK(run.bucket.at(1).upper_bound == Approx(4e-6));
  CHECK(run.bucket.at(1).cumulative_count == 1);                      // the 3 us job
  CHECK(run.bucket.at(run.bucket.size() - 2).cumulative_count == 1);  // 100 s is past 67 s
  CHECK(run.bucket.back().cumulative_count == 2);
  CHECK(
      sample(family(all, "nodus_worker_jobs_submitted_total"), {{"kind", "hash"}}).counter.value ==
      9);
}

TEST_CASE("the text exposition meets NODE_COMPAT §4's rules", "[handlers][metrics]") {
  const auto all = build_metric_families(sample_input());
  const std::string text = serialize_metrics(all);
  REQUIRE_FALSE(text.empty());
  CHECK(text.back() == '\n');
  // HELP then TYPE, once per family; this serializer does not escape HELP, so help texts
  // must need no escaping.
  for (const auto& f : all) {
    CHECK(f.help.find('\\') == std::string::npos);
    CHECK(f.help.find('\n') == std::string::npos);
    const std::string help = "# HELP " + f.name + " ";
    const std::string type = "# TYPE " + f.name + " ";
    const auto h = text.find(help);
    const auto t = text.find(type);
    REQUIRE(h != std::string::npos);
    CHECK(text.find(help, h + 1) == std::string::npos);
    CHECK(t == text.find('\n', h) + 1);
  }
  CHECK(text.find("# TYPE nodejs_gc_duration_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE http_requests_total counter\n") != std::string::npos);
  CHECK(text.find("nodejs_gc_duration_seconds_bucket{kind=\"minor\",loop=\"0\",le=\"+Inf\"} 4\n") !=
        std::string::npos);
  CHECK(
      text.find("nodejs_gc_duration_seconds_bucket{kind=\"minor\",loop=\"0\",le=\"0.001\"} 2\n") !=
      std::string::npos);
  CHECK(text.find("nodejs_gc_duration_seconds_count{kind=\"minor\",loop=\"0\"} 4\n") !=
        std::string::npos);
  // Label values escape backslash, double quote and newline.
  CHECK(text.find(R"(route="/a\"b\\c\nd")") != std::string::npos);
  // Every histogram has exactly one +Inf bucket per series.
  std::size_t inf_buckets = 0, histograms = 0;
  for (std::size_t at = text.find("le=\"+Inf\""); at != std::string::npos;
       at = text.find("le=\"+Inf\"", at + 1)) {
    ++inf_buckets;
  }
  for (const auto& f : all) {
    if (f.type == prom::MetricType::Histogram) histograms += f.metric.size();
  }
  CHECK(inf_buckets == histograms);
}

TEST_CASE("no leak detector, no nodus_heap_leak_suspected family", "[handlers][metrics]") {
  auto in = sample_input();
  for (auto& l : in.loops) l.leak_suspected.reset();
  for (const auto& f : build_metric_families(in)) CHECK(f.name != "nodus_heap_leak_suspected");
}
