#pragma once
// metrics_families: nodus's statistics as Prometheus metric families, named as prom-client 15's
// collectDefaultMetrics() names them (NODE_COMPAT §4) so Node.js dashboards work unchanged,
// plus http_* request metrics and nodus_* worker-pool, file-streaming and server metrics.
//
// Pure: the caller collects the plain stats structs (each loop's on its own thread) into a
// metrics_input; this builds the families from it, and prometheus::TextSerializer writes
// the exposition text (serialize_metrics). Names, labels and sources: docs/metrics.md.
#include <prometheus/metric_family.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "handlers/files.hpp"
#include "runtime/heap/gc_tracer.hpp"
#include "runtime/heap/heap_stats.hpp"
#include "runtime/loop/loop_stats.hpp"
#include "runtime/process/process_stats.hpp"
#include "runtime/workers/pool_stats.hpp"
#include "server/request_stats.hpp"
#include "server/server_stats.hpp"

namespace nodus::handlers {

// What one loop contributes to a scrape, read on that loop's thread.
struct loop_metrics {
  unsigned loop = 0;
  runtime::loop::loop_stats stats;  // delay = the histogram since the previous scrape
  double lag_seconds = 0;           // how late a setImmediate queued at scrape time ran
  runtime::heap::heap_statistics heap;
  std::vector<runtime::heap::heap_space_statistics> spaces;
  std::array<runtime::heap::pause_histogram, runtime::heap::gc_kind_count> gc{};  // by gc_kind
  std::optional<bool> leak_suspected;  // the heap's leak detector; nullopt: none
  server::loop_server_stats server;
  std::vector<server::route_request_stats> requests;  // by server::route_id
  file_stats files;
};

struct metrics_input {
  runtime::process::process_stats process;
  runtime::workers::pool_stats pool;
  std::vector<loop_metrics> loops;
  std::vector<std::string> route_patterns;  // label of each server::route_id
  std::string version;                      // "major.minor.patch"
};

// The gc_duration buckets prom-client uses (seconds); gc_tracer's bounds include each one.
inline constexpr std::array<double, 6> gc_duration_buckets{0.001, 0.01, 0.1, 1, 2, 5};

// Families in a fixed order (process_*, nodejs_*, http_*, nodus_*), each name once, every
// per-loop sample labelled loop="k". Histogram buckets are cumulative and end with +Inf.
std::vector<prometheus::MetricFamily> build_metric_families(const metrics_input& in);

// The text exposition format 0.0.4 (prometheus::TextSerializer).
std::string serialize_metrics(const std::vector<prometheus::MetricFamily>& families);

inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace nodus::handlers
