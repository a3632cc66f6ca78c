#include "handlers/metrics.hpp"

#include <boost/beast/http/field.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "handlers/metrics_families.hpp"
#include "runtime/heap/heap.hpp"
#include "runtime/process/process_stats.hpp"
#include "server/loop_server.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
using server::request;
using server::request_context;
using server::responder;

namespace {

// One loop's figures; runs on that loop's thread.
loop_metrics read_loop(isolate& iso, const files_endpoints* files) {
  loop_metrics m;
  m.loop = iso.loop.index();
  m.stats = iso.loop.stats();
  iso.loop.reset_delay_histogram();  // prom-client resets the histogram at every scrape
  m.heap = iso.heap.statistics();
  m.spaces = iso.heap.space_statistics();
  for (std::size_t k = 0; k < runtime::heap::gc_kind_count; ++k) {
    m.gc[k] = iso.heap.tracer().histogram(static_cast<runtime::heap::gc_kind>(k));
  }
  m.leak_suspected = iso.heap.leaks().suspected();
  m.server = iso.server.stats();
  m.requests = iso.server.requests().routes();
  if (files != nullptr) m.files = stats_of(*files, m.loop);
  return m;
}

using loop_results = std::vector<std::optional<loop_metrics>>;

// isolate_registry::gather, with one asynchronous step on each loop: after reading its stats
// the loop queues a setImmediate and reports how late it ran (prom-client's
// nodejs_eventloop_lag_seconds), then posts its result back to `origin`, where they are counted.
void collect_loops(const isolate_registry& isolates, runtime::loop::event_loop& origin,
                   std::shared_ptr<const files_endpoints> files,
                   std::function<void(loop_results)> done) {
  struct state {
    loop_results results;
    std::size_t remaining;
    std::function<void(loop_results)> done;
  };
  const unsigned n = isolates.size();
  auto st = std::make_shared<state>(state{loop_results(n), n, std::move(done)});
  auto arrive = [st](std::size_t i, std::optional<loop_metrics> r) {
    st->results[i] = std::move(r);
    if (--st->remaining == 0) st->done(std::move(st->results));
  };
  for (unsigned i = 0; i < n; ++i) {
    const bool posted = isolates.post(i, [&origin, i, arrive, files](isolate& iso) {
      auto m = std::make_shared<loop_metrics>(read_loop(iso, files.get()));
      const auto queued = std::chrono::steady_clock::now();
      iso.loop.set_immediate([&origin, i, arrive, m, queued] {
        m->lag_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - queued).count();
        origin.post([i, arrive, m] { arrive(i, std::move(*m)); });
      });
    });
    if (!posted) origin.post([i, arrive] { arrive(i, std::nullopt); });
  }
}

void scrape(const server::router& routes, const isolate_registry& isolates,
            const runtime::workers::worker_pool& pool,
            const std::shared_ptr<const files_endpoints>& files, const request_context& ctx,
            responder res) {
  auto shared = std::make_shared<responder>(std::move(res));
  collect_loops(isolates, ctx.loop, files, [&routes, &pool, shared](loop_results all) {
    metrics_input in;
    in.process = runtime::process::read_process_stats();
    in.pool = pool.stats();
    for (auto& m : all) {
      if (m) in.loops.push_back(std::move(*m));
    }
    for (server::route_id id = 0; id < routes.route_count(); ++id) {
      in.route_patterns.push_back(routes.pattern(id));
    }
    in.version = config::version();
    server::response out{http::status::ok, 11};
    out.set(http::field::content_type, metrics_content_type);
    out.set(http::field::cache_control, "no-store");
    out.body() = serialize_metrics(build_metric_families(in));
    shared->send(std::move(out));
  });
}

}  // namespace

void register_metrics(server::router& routes, const isolate_registry& isolates,
                      const runtime::workers::worker_pool& pool,
                      std::shared_ptr<const files_endpoints> files) {
  const server::router& table = routes;
  routes.add(
      "/metrics", {http::verb::get},
      [&table, &isolates, &pool, files](request&, const request_context& ctx, responder res) {
        scrape(table, isolates, pool, files, ctx, std::move(res));
      });
}

}  // namespace nodus::handlers
