#include "handlers/metrics_families.hpp"

#include <boost/beast/http/verb.hpp>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string_view>
#include <tuple>
#include <utility>

namespace nodus::handlers {

namespace prom = prometheus;
using label_list = std::vector<prom::ClientMetric::Label>;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ns_per_s = 1e9;

// One cumulative bucket: (upper bound in seconds, observations <= it).
using bucket_list = std::vector<std::pair<double, std::uint64_t>>;

// The families being built, in the order they were first named.
class family_set {
 public:
  prom::MetricFamily& family(std::string name, std::string help, prom::MetricType type) {
    families_.push_back({std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  std::vector<prom::MetricFamily> take() { return std::move(families_); }

 private:
  std::vector<prom::MetricFamily> families_;
};

void gauge(prom::MetricFamily& f, label_list labels, double v) {
  prom::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

void counter(prom::MetricFamily& f, label_list labels, double v) {
  prom::ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  f.metric.push_back(std::move(m));
}

// `buckets` without +Inf; it is added here (= count), so the serializer never has to.
void histogram(prom::MetricFamily& f, label_list labels, const bucket_list& buckets,
               std::uint64_t count, double sum_seconds) {
  prom::ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = count;
  m.histogram.sample_sum = sum_seconds;
  for (const auto& [le, cumulative] : buckets) m.histogram.bucket.push_back({cumulative, le});
  m.histogram.bucket.push_back({count, inf});
  f.metric.push_back(std::move(m));
}

prom::ClientMetric::Label loop_label(unsigned k) { return {"loop", std::to_string(k)}; }

double as_double(std::uint64_t v) { return static_cast<double>(v); }

// --- process_* -------------------------------------------------------------------------------

void add_process(family_set& out, const runtime::process::process_stats& p) {
  using prom::MetricType;
  counter(out.family("process_cpu_user_seconds_total", "Total user CPU time spent in seconds.",
                     MetricType::Counter),
          {}, p.cpu_user_seconds);
  counter(out.family("process_cpu_system_seconds_total", "Total system CPU time spent in seconds.",
                     MetricType::Counter),
          {}, p.cpu_system_seconds);
  counter(out.family("process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds.", MetricType::Counter),
          {}, p.cpu_user_seconds + p.cpu_system_seconds);
  gauge(out.family("process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds.", MetricType::Gauge),
        {}, p.start_time_seconds);
  gauge(out.family("process_resident_memory_bytes", "Resident memory size in bytes.",
                   MetricType::Gauge),
        {}, as_double(p.resident_memory_bytes));
  gauge(out.family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                   MetricType::Gauge),
        {}, as_double(p.virtual_memory_bytes));
  gauge(out.family("process_heap_bytes", "Process heap size in bytes.", MetricType::Gauge), {},
        as_double(p.heap_bytes));
  gauge(out.family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge), {},
        as_double(p.open_fds));
  if (p.max_fds) {
    gauge(out.family("process_max_fds", "Maximum number of open file descriptors.",
                     MetricType::Gauge),
          {}, as_double(*p.max_fds));
  }
}

// --- nodejs_*: the event loop ----------------------------------------------------------------

void add_eventloop(family_set& out, const std::vector<loop_metrics>& loops) {
  using prom::MetricType;
  auto& lag = out.family("nodejs_eventloop_lag_seconds",
                         "Lag of event loop in seconds (a setImmediate queued at scrape time).",
                         MetricType::Gauge);
  for (const auto& l : loops) gauge(lag, {loop_label(l.loop)}, l.lag_seconds);

  using delay = runtime::loop::delay_histogram_stats;
  const std::array<std::tuple<const char*, const char*, double delay::*>, 7> stats{{
      {"min", "The minimum recorded event loop delay.", &delay::min_ns},
      {"max", "The maximum recorded event loop delay.", &delay::max_ns},
      {"mean", "The mean of the recorded event loop delays.", &delay::mean_ns},
      {"stddev", "The standard deviation of the recorded event loop delays.", &delay::stddev_ns},
      {"p50", "The 50th percentile of the recorded event loop delays.", &delay::p50_ns},
      {"p90", "The 90th percentile of the recorded event loop delays.", &delay::p90_ns},
      {"p99", "The 99th percentile of the recorded event loop delays.", &delay::p99_ns},
  }};
  for (const auto& [name, help, field] : stats) {
    auto& f = out.family(std::string("nodejs_eventloop_lag_") + name + "_seconds", help,
                         MetricType::Gauge);
    for (const auto& l : loops) gauge(f, {loop_label(l.loop)}, l.stats.delay.*field / ns_per_s);
  }

  using counts = std::map<std::string, std::uint64_t>;
  const auto by_type = [&](const char* name, const char* help, const char* total_help,
                           counts runtime::loop::loop_stats::*field) {
    auto& f = out.family(name, help, MetricType::Gauge);
    auto& total = out.family(std::string(name) + "_total", total_help, MetricType::Gauge);
    for (const auto& l : loops) {
      std::uint64_t sum = 0;
      for (const auto& [type, n] : l.stats.*field) {
        gauge(f, {{"type", type}, loop_label(l.loop)}, as_double(n));
        sum += n;
      }
      gauge(total, {loop_label(l.loop)}, as_double(sum));
    }
  };
  by_type("nodejs_active_handles", "Number of active libuv handles grouped by handle type.",
          "Total number of active handles.", &runtime::loop::loop_stats::active_handles);
  by_type("nodejs_active_requests", "Number of active libuv requests grouped by request type.",
          "Total number of active requests.", &runtime::loop::loop_stats::active_requests);

  auto& elu = out.family("nodus_eventloop_utilization",
                         "performance.eventLoopUtilization() since the loop started (0..1).",
                         MetricType::Gauge);
  for (const auto& l : loops) gauge(elu, {loop_label(l.loop)}, l.stats.utilization.utilization);
  auto& iterations =
      out.family("nodus_eventloop_iterations_total", "Event loop iterations.", MetricType::Counter);
  for (const auto& l : loops)
    counter(iterations, {loop_label(l.loop)}, as_double(l.stats.iterations));
}

// --- nodejs_*: the managed heap --------------------------------------------------------------

constexpr std::int64_t micros(double seconds) {
  return static_cast<std::int64_t>(seconds * 1e6 + 0.5);
}

constexpr bool gc_bounds_include_prometheus_buckets() {
  for (double b : gc_duration_buckets) {
    bool found = false;
    for (auto bound : runtime::heap::pause_bucket_bounds)
      found = found || bound.count() == micros(b);
    if (!found) return false;
  }
  return true;
}
static_assert(
    gc_bounds_include_prometheus_buckets(),
    "gc_tracer's pause_bucket_bounds must include every nodejs_gc_duration_seconds bucket");

// "new_space" -> "new", as prom-client labels V8's spaces.
std::string space_label(std::string_view name) {
  constexpr std::string_view suffix = "_space";
  if (name.ends_with(suffix)) name.remove_suffix(suffix.size());
  return std::string(name);
}

void add_heap(family_set& out, const std::vector<loop_metrics>& loops) {
  using prom::MetricType;
  using hs = runtime::heap::heap_statistics;
  const std::array<std::tuple<const char*, const char*, std::size_t hs::*>, 3> totals{{
      {"nodejs_heap_size_total_bytes", "Process heap size from the managed heap in bytes.",
       &hs::total_heap_size},
      {"nodejs_heap_size_used_bytes", "Process heap size used from the managed heap in bytes.",
       &hs::used_heap_size},
      {"nodejs_external_memory_bytes", "Managed heap external memory size in bytes.",
       &hs::external_memory},
  }};
  for (const auto& [name, help, field] : totals) {
    auto& f = out.family(name, help, MetricType::Gauge);
    for (const auto& l : loops) gauge(f, {loop_label(l.loop)}, as_double(l.heap.*field));
  }

  using ss = runtime::heap::heap_space_statistics;
  const std::array<std::tuple<const char*, const char*, std::size_t ss::*>, 3> spaces{{
      {"total", "Process heap space size total from the managed heap in bytes.", &ss::space_size},
      {"used", "Process heap space size used from the managed heap in bytes.",
       &ss::space_used_size},
      {"available", "Process heap space size available from the managed heap in bytes.",
       &ss::space_available_size},
  }};
  for (const auto& [what, help, field] : spaces) {
    auto& f = out.family(std::string("nodejs_heap_space_size_") + what + "_bytes", help,
                         MetricType::Gauge);
    for (const auto& l : loops) {
      for (const auto& s : l.spaces) {
        gauge(f, {{"space", space_label(s.space_name)}, loop_label(l.loop)}, as_double(s.*field));
      }
    }
  }

  // gc_tracer's pause histograms, re-bucketed to prom-client's bounds: its bounds include
  // them (checked here), so each cumulative count is exact.
  auto& gc = out.family("nodejs_gc_duration_seconds",
                        "Garbage collection duration by kind, one of minor, major.",
                        MetricType::Histogram);
  for (const auto& l : loops) {
    for (std::size_t k = 0; k < runtime::heap::gc_kind_count; ++k) {
      const auto& h = l.gc[k];
      bucket_list buckets;
      std::uint64_t cumulative = 0;
      std::size_t next = 0;
      for (std::size_t i = 0;
           i < runtime::heap::pause_bucket_bounds.size() && next < gc_duration_buckets.size();
           ++i) {
        cumulative += h.counts[i];
        if (runtime::heap::pause_bucket_bounds[i].count() == micros(gc_duration_buckets[next])) {
          buckets.emplace_back(gc_duration_buckets[next++], cumulative);
        }
      }
      const auto kind = runtime::heap::kind_name(static_cast<runtime::heap::gc_kind>(k));
      histogram(gc, {{"kind", std::string(kind)}, loop_label(l.loop)}, buckets, h.count,
                std::chrono::duration<double>(h.sum).count());
    }
  }

  bool any_detector = false;
  for (const auto& l : loops) any_detector = any_detector || l.leak_suspected.has_value();
  if (any_detector) {
    auto& leak =
        out.family("nodus_heap_leak_suspected",
                   "1 while the heap's leak detector sees steady growth of post-major-GC heap use.",
                   MetricType::Gauge);
    for (const auto& l : loops) {
      if (l.leak_suspected) gauge(leak, {loop_label(l.loop)}, *l.leak_suspected ? 1 : 0);
    }
  }
}

// --- http_* ----------------------------------------------------------------------------------

std::string method_label(boost::beast::http::verb v) {
  if (v == boost::beast::http::verb::unknown) return "OTHER";  // bounded cardinality
  return std::string(boost::beast::http::to_string(v));
}

void merge(server::request_duration_histogram& into, const server::request_duration_histogram& h) {
  std::transform(into.counts.begin(), into.counts.end(), h.counts.begin(), into.counts.begin(), std::plus<>());
  into.count += h.count;
  into.sum_ns += h.sum_ns;
}

// Summed over loops: the label sets dashboards built on prom-client middlewares expect.
void add_http(family_set& out, const metrics_input& in) {
  using prom::MetricType;
  const auto pattern = [&](std::size_t id) {
    return id < in.route_patterns.size() ? in.route_patterns[id] : std::string("(unmatched)");
  };
  std::map<std::tuple<std::size_t, std::string, unsigned>, std::uint64_t> responses;
  std::map<std::size_t, server::request_duration_histogram> durations;
  for (const auto& l : in.loops) {
    std::size_t id = 0;
    for (const auto& r : l.requests) {
      const std::size_t route = id++;
      if (r.duration.count == 0) continue;
      for (const auto& c : r.responses) responses[{route, method_label(c.method), c.status}] += c.count;
      merge(durations[route], r.duration);
    }
  }
  auto& total = out.family(
      "http_requests_total",
      "Completed HTTP responses by method, route (the registered path or prefix) and status.",
      MetricType::Counter);
  for (const auto& [key, n] : responses) {
    const auto& [id, method, status] = key;
    counter(total, {{"method", method}, {"route", pattern(id)}, {"status", std::to_string(status)}},
            as_double(n));
  }
  auto& duration = out.family(
      "http_request_duration_seconds",
      "Time from the request header parsed to the response's last byte written, by route.",
      MetricType::Histogram);
  for (const auto& [id, d] : durations) {
    bucket_list buckets;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < server::request_duration_bounds_ns.size(); ++i) {
      cumulative += d.counts[i];
      buckets.emplace_back(as_double(server::request_duration_bounds_ns[i]) / ns_per_s, cumulative);
    }
    histogram(duration, {{"route", pattern(id)}}, buckets, d.count, as_double(d.sum_ns) / ns_per_s);
  }
}

// --- nodus_*: server, files, worker pool, version --------------------------------------------

void add_server(family_set& out, const std::vector<loop_metrics>& loops) {
  using prom::MetricType;
  using ss = server::loop_server_stats;
  const std::array<std::tuple<const char*, const char*, std::uint64_t ss::*>, 4> counters{{
      {"nodus_http_connections_accepted_total", "TCP connections accepted.",
       &ss::connections_accepted},
      {"nodus_http_request_timeouts_total", "Requests cut off for not arriving in time (408).",
       &ss::request_timeouts},
      {"nodus_http_idle_timeouts_total", "Keep-alive connections closed for idleness.",
       &ss::idle_timeouts},
      {"nodus_http_bad_requests_total",
       "Protocol errors answered by the server itself (400/413/414/417/431).", &ss::bad_requests},
  }};
  auto& active =
      out.family("nodus_http_connections_active", "Open TCP connections.", MetricType::Gauge);
  for (const auto& l : loops)
    gauge(active, {loop_label(l.loop)}, as_double(l.server.connections_active));
  for (const auto& [name, help, field] : counters) {
    auto& f = out.family(name, help, MetricType::Counter);
    for (const auto& l : loops) counter(f, {loop_label(l.loop)}, as_double(l.server.*field));
  }

  using fs = file_stats;
  const std::array<std::tuple<const char*, const char*, std::uint64_t fs::*>, 7> files{{
      {"nodus_files_served_total", "File bodies (sendfile) written to the end.", &fs::files_served},
      {"nodus_file_sent_bytes_total", "File body bytes sent, complete transfers or not.",
       &fs::file_bytes_sent},
      {"nodus_file_aborts_total", "File transfers ended by the client or a stalled reader.",
       &fs::file_aborts},
      {"nodus_file_truncations_total", "Files that shrank while being sent.",
       &fs::file_truncations},
      {"nodus_streams_served_total", "Generated chunked bodies (/stream) written to the end.",
       &fs::streams_served},
      {"nodus_stream_sent_bytes_total", "Generated body bytes sent (chunk framing excluded).",
       &fs::stream_bytes_sent},
      {"nodus_stream_aborts_total", "Generated bodies ended by the client or a stalled reader.",
       &fs::stream_aborts},
  }};
  for (const auto& [name, help, field] : files) {
    auto& f = out.family(name, help, MetricType::Counter);
    for (const auto& l : loops) counter(f, {loop_label(l.loop)}, as_double(l.files.*field));
  }
}

// worker_pool's power-of-two microsecond histograms at every other bound (1 us, 4 us, ...,
// 2^26 us); its last bucket is open-ended, so it is +Inf's. Its bounds are exclusive where
// Prometheus's are inclusive: an observation of exactly 2^i us counts one bucket higher.
bucket_list pool_buckets(const runtime::workers::duration_histogram& h) {
  using dh = runtime::workers::duration_histogram;
  bucket_list out;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i + 1 < dh::bucket_count; ++i) {
    cumulative += h.buckets[i];
    if (i % 2 == 0) out.emplace_back(as_double(dh::bucket_upper_us(i)) / 1e6, cumulative);
  }
  return out;
}

void add_pool(family_set& out, const runtime::workers::pool_stats& p) {
  using prom::MetricType;
  gauge(out.family("nodus_worker_pool_threads", "Worker pool threads.", MetricType::Gauge), {},
        p.threads);
  gauge(out.family("nodus_worker_pool_queue_capacity", "Worker pool queue capacity (jobs).",
                   MetricType::Gauge),
        {}, as_double(p.queue_capacity));
  gauge(out.family("nodus_worker_pool_busy_threads", "Worker threads running a job now.",
                   MetricType::Gauge),
        {}, as_double(p.busy));
  gauge(out.family("nodus_worker_pool_queued_jobs", "Jobs waiting in the worker pool queue now.",
                   MetricType::Gauge),
        {}, as_double(p.queued));

  using ks = runtime::workers::kind_stats;
  const std::array<std::tuple<const char*, const char*, std::uint64_t ks::*>, 5> counters{{
      {"nodus_worker_jobs_submitted_total", "Jobs accepted into the queue, by kind.",
       &ks::submitted},
      {"nodus_worker_jobs_rejected_total", "Jobs refused (queue full or pool stopped), by kind.",
       &ks::rejected},
      {"nodus_worker_jobs_completed_total",
       "Jobs run to the end with their result delivered, by kind.", &ks::completed},
      {"nodus_worker_jobs_failed_total", "Jobs that threw, by kind.", &ks::failed},
      {"nodus_worker_jobs_cancelled_total", "Jobs cancelled or whose result was dropped, by kind.",
       &ks::cancelled},
  }};
  const auto kind = [](std::size_t k) {
    return prom::ClientMetric::Label{"kind", std::string(runtime::workers::job_kind_names[k])};
  };
  for (const auto& [name, help, field] : counters) {
    auto& f = out.family(name, help, MetricType::Counter);
    for (std::size_t k = 0; k < runtime::workers::job_kind_count; ++k) {
      counter(f, {kind(k)}, as_double(p.kinds[k].*field));
    }
  }
  auto& running =
      out.family("nodus_worker_jobs_running", "Jobs running now, by kind.", MetricType::Gauge);
  auto& queued =
      out.family("nodus_worker_jobs_queued", "Jobs waiting now, by kind.", MetricType::Gauge);
  auto& wait = out.family("nodus_worker_job_queue_wait_seconds",
                          "Time jobs waited in the queue, by kind.", MetricType::Histogram);
  auto& run = out.family("nodus_worker_job_run_seconds",
                         "Time jobs ran on a worker thread, by kind.", MetricType::Histogram);
  for (std::size_t k = 0; k < runtime::workers::job_kind_count; ++k) {
    const auto& s = p.kinds[k];
    gauge(running, {kind(k)}, as_double(s.busy));
    gauge(queued, {kind(k)}, as_double(s.queued));
    histogram(wait, {kind(k)}, pool_buckets(s.queue_wait), s.queue_wait.count,
              as_double(s.queue_wait.sum_ns) / ns_per_s);
    histogram(run, {kind(k)}, pool_buckets(s.run_time), s.run_time.count,
              as_double(s.run_time.sum_ns) / ns_per_s);
  }
}

void add_version(family_set& out, const std::string& version) {
  std::array<std::string, 3> parts;
  std::size_t part = 0;
  for (char c : version) {
    if (c == '.' && part < 2) {
      ++part;
    } else {
      parts[part] += c;
    }
  }
  gauge(out.family("nodus_version_info", "nodus version info (as nodejs_version_info).",
                   prom::MetricType::Gauge),
        {{"version", "v" + version}, {"major", parts[0]}, {"minor", parts[1]}, {"patch", parts[2]}},
        1);
}

}  // namespace

std::vector<prom::MetricFamily> build_metric_families(const metrics_input& in) {
  family_set out;
  add_process(out, in.process);
  add_eventloop(out, in.loops);
  add_heap(out, in.loops);
  add_http(out, in);
  add_server(out, in.loops);
  add_pool(out, in.pool);
  add_version(out, in.version);
  return out.take();
}

std::string serialize_metrics(const std::vector<prom::MetricFamily>& families) {
  std::ostringstream text;
  prom::TextSerializer{}.Serialize(text, families);
  return std::move(text).str();
}

}  // namespace nodus::handlers
