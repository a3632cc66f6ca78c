#include "handlers/debug_loop.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <memory>

#include "handlers/json_response.hpp"
#include "handlers/per_loop.hpp"
#include "handlers/query.hpp"
#include "runtime/loop/scenario.hpp"
#include "server/error_response.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
namespace json = boost::json;
using runtime::loop::loop_stats;
using server::error_response;
using server::request;
using server::request_context;
using server::responder;

namespace {

json::object counts_json(const std::map<std::string, std::uint64_t>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

void debug_loop(const isolate_registry& isolates, const request& req, const request_context& ctx,
                responder res) {
  answer_per_loop(isolates, req, ctx, std::move(res), [](isolate& iso) { return loop_stats_json(iso.loop.stats()); });
}

void run_scenario(const request& req, const request_context& ctx, responder res) {
  // The responder is shared with the scenario's completion; the handler's copy answers errors.
  auto shared = std::make_shared<responder>(std::move(res));
  auto started = runtime::loop::start_scenario(ctx.loop, req.body(), [shared](std::string order) {
    server::response out{http::status::ok, 11};
    out.set(http::field::content_type, "application/json");
    out.body() = std::move(order);
    out.body() += '\n';
    shared->send(std::move(out));
  });
  if (!started) {
    shared->send(error_response(http::status::bad_request, "invalid_scenario",
                                started.error().detail.empty() ? started.error().code.message() : started.error().detail));
  }
}

void block(const request& req, const request_context& ctx, responder res) {
  const query q(req.target());
  std::string why = "ms is required";
  const auto ms = q.valid() && q.get("ms") ? int_param(q, "ms", 0, 0, max_block_ms, why) : std::nullopt;
  if (!ms) return res.send(error_response(http::status::bad_request, "bad_request", why));
  // Deliberately synchronous: the loop can do nothing else meanwhile, as a CPU-bound
  // JavaScript function blocks Node's loop.
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::milliseconds(*ms);
  std::uint64_t spins = 0;
  while (std::chrono::steady_clock::now() < until) ++spins;
  res.send(json_response(json::object{{"loop", ctx.loop.index()},
                                      {"blocked_ms", *ms},
                                      {"spins", spins}}));
}

struct starve_state {
  runtime::loop::event_loop& loop;
  std::int64_t remaining;
  std::int64_t ticks;
  std::chrono::steady_clock::time_point start;
  responder res;
};

// Each tick queues the next from inside the nextTick queue: the loop drains them all
// before it can return to poll, so no other I/O on this loop runs until the last one.
void starve_tick(const std::shared_ptr<starve_state>& st) {
  if (st->remaining-- > 0) {
    return st->loop.next_tick([st] { starve_tick(st); });
  }
  const auto elapsed = std::chrono::duration<double, std::milli>(
      std::chrono::steady_clock::now() - st->start);
  st->res.send(json_response(json::object{{"loop", st->loop.index()},
                                          {"ticks", st->ticks},
                                          {"elapsed_ms", elapsed.count()}}));
}

void starve(const request& req, const request_context& ctx, responder res) {
  const query q(req.target());
  std::string why = "ticks is required";
  const auto ticks = q.valid() && q.get("ticks")
                         ? int_param(q, "ticks", 0, 0, max_starve_ticks, why)
                         : std::nullopt;
  if (!ticks) return res.send(error_response(http::status::bad_request, "bad_request", why));
  auto st = std::make_shared<starve_state>(
      starve_state{ctx.loop, *ticks, *ticks, std::chrono::steady_clock::now(), std::move(res)});
  ctx.loop.next_tick([st] { starve_tick(st); });
}

}  // namespace

json::object loop_stats_json(const loop_stats& s) {
  json::object phases;
  for (std::size_t i = 0; i < runtime::loop::phase_count; ++i) {
    phases[runtime::loop::phase_names[i]] =
        json::object{{"callbacks", s.phases[i].callbacks}, {"time_ms", s.phases[i].time_ns / 1e6}};
  }
  const auto& d = s.delay;
  return json::object{
      {"loop", s.index},
      {"iterations", s.iterations},
      {"phases", std::move(phases)},
      {"next_ticks_run", s.next_ticks_run},
      {"microtasks_run", s.microtasks_run},
      {"timers_run", s.timers_run},
      {"immediates_run", s.immediates_run},
      {"queues", json::object{{"timers", s.queues.timers},
                              {"timer_lists", s.queues.timer_lists},
                              {"immediates", s.queues.immediates},
                              {"next_ticks", s.queues.next_ticks},
                              {"microtasks", s.queues.microtasks},
                              {"pending", s.queues.pending},
                              {"closing", s.queues.closing},
                              {"posts", s.queues.posts}}},
      {"active_handles", counts_json(s.active_handles)},
      {"active_requests", counts_json(s.active_requests)},
      {"active_resources", counts_json(s.active_resources)},
      {"event_loop_utilization", json::object{{"idle", s.utilization.idle_ms},
                                              {"active", s.utilization.active_ms},
                                              {"utilization", s.utilization.utilization}}},
      {"event_loop_delay", json::object{{"resolution_ms", d.resolution_ms},
                                        {"count", d.count},
                                        {"min", d.min_ns},
                                        {"max", d.max_ns},
                                        {"mean", d.mean_ns},
                                        {"stddev", d.stddev_ns},
                                        {"percentiles", json::object{{"50", d.p50_ns},
                                                                     {"90", d.p90_ns},
                                                                     {"99", d.p99_ns}}},
                                        {"exceeds", d.exceeds}}},
  };
}

void register_debug_loop(server::router& routes, const isolate_registry& isolates) {
  routes.add("/debug/loop", {http::verb::get},
             [&isolates](request& req, const request_context& ctx, responder res) {
               debug_loop(isolates, req, ctx, std::move(res));
             });
  routes.add("/debug/loop/scenario", {http::verb::post},
             [](request& req, const request_context& ctx, responder res) {
               run_scenario(req, ctx, std::move(res));
             },
             {server::body_mode::buffered});
  routes.add("/demo/block", {http::verb::get},
             [](request& req, const request_context& ctx, responder res) {
               block(req, ctx, std::move(res));
             });
  routes.add("/demo/starve", {http::verb::get},
             [](request& req, const request_context& ctx, responder res) {
               starve(req, ctx, std::move(res));
             });
}

}  // namespace nodus::handlers
