#include "handlers/workers.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <string>

#include "handlers/json_response.hpp"
#include "handlers/query.hpp"
#include "handlers/workers_common.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
namespace json = boost::json;
using server::error_response;
using server::request;
using server::request_context;
using server::responder;

namespace detail {

server::response rejected_response(const workers::worker_pool& pool, workers::submit_status why) {
  const bool full = why == workers::submit_status::queue_full;
  auto res = error_response(http::status::service_unavailable, full ? "queue_full" : "shutting_down",
                            full ? "the worker pool queue is full (" +
                                       std::to_string(pool.queue_capacity()) + " jobs); retry later"
                                 : std::string("the worker pool is stopping"));
  res.set(http::field::retry_after, std::to_string(pool.retry_after_seconds()));
  return res;
}

server::response file_error_response(server::files::resolve_error e, std::string_view url_path) {
  using server::files::resolve_error;
  const std::string path(url_path);
  switch (e) {
    case resolve_error::bad_path:
      return error_response(http::status::bad_request, "bad_path", "invalid file path: " + path);
    case resolve_error::forbidden:
      return error_response(http::status::forbidden, "forbidden", "not a servable file: " + path);
    case resolve_error::not_found:
      return error_response(http::status::not_found, "not_found", "no such file: " + path);
    case resolve_error::io_error:
      break;
  }
  return error_response(http::status::internal_server_error, "io_error", "cannot open " + path);
}

std::string_view after_prefix(const request& req, std::string_view prefix) noexcept {
  const std::string_view path = server::target_path(req.target());
  return path.size() >= prefix.size() ? path.substr(prefix.size()) : std::string_view{};
}

void cancel_on_disconnect(const std::shared_ptr<pending_request>& p) {
  p->res.on_cancel([weak = std::weak_ptr<pending_request>(p)] {
    if (auto alive = weak.lock()) alive->job.cancel();
  });
}

}  // namespace detail

namespace {

json::object histogram_json(const runtime::workers::duration_histogram& h) {
  using runtime::workers::duration_histogram;
  json::array buckets;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < duration_histogram::bucket_count; ++i) {
    cumulative += h.buckets[i];
    // Trailing empty buckets say nothing; stop after the last observation.
    if (cumulative == h.count && h.buckets[i] == 0 && i > 0) break;
    const bool last = i + 1 == duration_histogram::bucket_count;
    buckets.push_back(json::object{
        {"le_us", last ? json::value("+Inf") : json::value(duration_histogram::bucket_upper_us(i))},
        {"count", cumulative}});
  }
  return {{"count", h.count},
          {"sum_ns", h.sum_ns},
          {"max_ns", h.max_ns},
          {"p50_le_us", h.quantile_upper_us(0.50)},
          {"p99_le_us", h.quantile_upper_us(0.99)},
          {"buckets", std::move(buckets)}};
}

// Busy work on a pool thread: exactly /demo/block's loop, so the two compare like for like.
struct offload_result {
  std::uint64_t spins = 0;
  double elapsed_ms = 0;
};

offload_result spin_for(std::chrono::milliseconds ms) {
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + ms;
  offload_result r;
  while (std::chrono::steady_clock::now() < until) ++r.spins;
  r.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void offload(const request& req, const request_context& ctx, responder res,
             const detail::workers_env& env) {
  const query q(req.target());
  std::string why = "ms is required";
  const auto ms = q.valid() && q.get("ms") ? int_param(q, "ms", 0, 0, max_offload_ms, why) : std::nullopt;
  if (!ms) return res.send(error_response(http::status::bad_request, "bad_request", why));
  auto p = std::make_shared<detail::pending_request>(std::move(res));
  detail::cancel_on_disconnect(p);
  const unsigned loop = ctx.loop.index();
  detail::submit_for_request(
      env.pool, ctx.loop, runtime::workers::job_kind::offload, p,
      [ms = std::chrono::milliseconds(*ms)] { return spin_for(ms); },
      [loop, ms = *ms](offload_result r, responder& out) {
        out.send(json_response(json::object{{"loop", loop},
                                            {"offloaded_ms", ms},
                                            {"spins", r.spins},
                                            {"elapsed_ms", r.elapsed_ms}}));
      });
}

}  // namespace

json::object pool_stats_json(const runtime::workers::pool_stats& s) {
  json::object kinds;
  for (std::size_t k = 0; k < runtime::workers::job_kind_count; ++k) {
    const auto& ks = s.kinds[k];
    kinds[runtime::workers::job_kind_names[k]] = json::object{
        {"submitted", ks.submitted}, {"rejected", ks.rejected},   {"completed", ks.completed},
        {"failed", ks.failed},       {"cancelled", ks.cancelled}, {"busy", ks.busy},
        {"queued", ks.queued},       {"queue_wait", histogram_json(ks.queue_wait)},
        {"run_time", histogram_json(ks.run_time)}};
  }
  return {{"threads", s.threads},
          {"sched_idle_threads", s.sched_idle_threads},
          {"queue_capacity", s.queue_capacity},
          {"busy", s.busy},
          {"queued", s.queued},
          {"kinds", std::move(kinds)}};
}

void register_workers(server::router& routes, runtime::workers::worker_pool& pool,
                      const config::config& cfg) {
  runtime::workers::resize_limits limits;
  limits.max_input_bytes = cfg.max_image_bytes;
  limits.max_input_pixels = cfg.max_image_pixels;
  auto env = std::make_shared<const detail::workers_env>(
      detail::workers_env{pool, server::files::path_resolver(cfg.root), limits});

  routes.add("/demo/offload", {http::verb::get},
             [env](request& req, const request_context& ctx, responder res) {
               offload(req, ctx, std::move(res), *env);
             });
  routes.add("/debug/workers", {http::verb::get},
             [env](request&, const request_context&, responder res) {
               auto o = pool_stats_json(env->pool.stats());
               const auto& reads = *env->file_reads;
               o["hash_file_reads"] = json::object{
                   {"mapped_bytes", reads.mapped_bytes.load(std::memory_order_relaxed)},
                   {"pread_bytes", reads.pread_bytes.load(std::memory_order_relaxed)},
                   {"shrunk", reads.shrunk.load(std::memory_order_relaxed)}};
               res.send(json_response(std::move(o)));
             });
  detail::register_hash(routes, env);
  detail::register_image(routes, env);
}

}  // namespace nodus::handlers
