#include "handlers/debug_heap.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <memory>

#include "handlers/demo_cache.hpp"
#include "handlers/demo_leak.hpp"
#include "handlers/json_response.hpp"
#include "handlers/per_loop.hpp"
#include "handlers/object_store.hpp"
#include "handlers/query.hpp"
#include "runtime/heap/heap.hpp"
#include "server/error_response.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace rh = runtime::heap;
using server::error_response;
using server::request;
using server::request_context;
using server::responder;

namespace {

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

json::object heap_json(isolate& iso) {
  const rh::heap_statistics s = iso.heap.statistics();
  json::object kinds;
  const rh::object_statistics objects = iso.heap.object_stats();
  for (std::size_t k = 0; k < rh::object_kind_count; ++k) {
    const auto kind = static_cast<rh::object_kind>(k);
    if (rh::is_filler(kind)) continue;
    kinds[rh::kind_name(kind)] = json::object{{"count", objects[kind].count}, {"size_bytes", objects[kind].size_bytes}};
  }
  const object_store_stats store = iso.state<object_store>().stats();
  return json::object{
      {"loop", iso.loop.index()},
      {"total_heap_size", s.total_heap_size},
      {"total_heap_size_executable", s.total_heap_size_executable},
      {"total_physical_size", s.total_physical_size},
      {"total_available_size", s.total_available_size},
      {"used_heap_size", s.used_heap_size},
      {"heap_size_limit", s.heap_size_limit},
      {"malloced_memory", s.malloced_memory},
      {"peak_malloced_memory", s.peak_malloced_memory},
      {"does_zap_garbage", s.does_zap_garbage},
      {"number_of_native_contexts", s.number_of_native_contexts},
      {"number_of_detached_contexts", s.number_of_detached_contexts},
      {"total_global_handles_size", s.total_global_handles_size},
      {"used_global_handles_size", s.used_global_handles_size},
      {"external_memory", s.external_memory},
      {"objects_by_kind", std::move(kinds)},
      {"object_store", json::object{{"documents", store.documents},
                                    {"inserted", store.inserted},
                                    {"replaced", store.replaced},
                                    {"deleted", store.deleted},
                                    {"rejected_heap_full", store.rejected_heap_full}}},
      {"leak_detector", leak_status_json(iso.heap.leaks().status())},
      {"weak_cache", weak_cache_stats_json(demo_cache_stats(iso))},
  };
}

json::object spaces_json(isolate& iso) {
  json::array spaces;
  for (const auto& s : iso.heap.space_statistics()) {
    spaces.push_back(json::object{{"space_name", s.space_name},
                                  {"space_size", s.space_size},
                                  {"space_used_size", s.space_used_size},
                                  {"space_available_size", s.space_available_size},
                                  {"physical_space_size", s.physical_space_size}});
  }
  return json::object{{"loop", iso.loop.index()}, {"spaces", std::move(spaces)}};
}

json::object pause_histogram_json(const rh::pause_histogram& h) {
  json::array buckets;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    const bool last = i == rh::pause_bucket_bounds.size();
    buckets.push_back(json::object{
        {"le_ms", last ? json::value("+Inf") : json::value(ms(rh::pause_bucket_bounds[i]))},
        {"count", cumulative}});
  }
  return {{"count", h.count}, {"sum_ms", ms(h.sum)}, {"buckets", std::move(buckets)}};
}

json::object gc_json(isolate& iso) {
  const rh::gc_tracer& t = iso.heap.tracer();
  json::array events;
  for (const auto& e : t.recent()) events.push_back(gc_event_json(e));
  json::object totals;
  for (std::size_t k = 0; k < rh::gc_kind_count; ++k) {
    const auto kind = static_cast<rh::gc_kind>(k);
    const rh::gc_totals& tot = t.totals(kind);
    totals[rh::kind_name(kind)] = json::object{{"count", tot.count},
                                               {"total_pause_ms", ms(tot.total_pause)},
                                               {"max_pause_ms", ms(tot.max_pause)},
                                               {"copied_bytes", tot.copied_bytes},
                                               {"promoted_bytes", tot.promoted_bytes},
                                               {"freed_bytes", tot.freed_bytes},
                                               {"objects_moved", tot.objects_moved},
                                               {"pause_histogram", pause_histogram_json(t.histogram(kind))}};
  }
  return json::object{{"loop", iso.loop.index()},
                      {"gc_count", t.event_count()},
                      {"totals", std::move(totals)},
                      {"recent", std::move(events)}};
}

void force_gc(const isolate_registry& isolates, const request& req, const request_context& ctx, responder res) {
  const query q(req.target());
  const auto kind_param = q.valid() ? q.get("kind") : std::nullopt;
  rh::gc_kind kind = rh::gc_kind::major;
  if (kind_param && *kind_param == "minor") {
    kind = rh::gc_kind::minor;
  } else if (kind_param && *kind_param != "major") {
    return res.send(error_response(http::status::bad_request, "bad_request", "kind must be minor or major"));
  }
  answer_per_loop(isolates, req, ctx, std::move(res), [kind](isolate& iso) {
    const std::uint64_t before = iso.heap.tracer().event_count();
    iso.heap.collect_garbage(kind, rh::gc_reason::testing);
    json::object out{{"loop", iso.loop.index()}};
    if (iso.heap.tracer().event_count() == before) {
      out["event"] = nullptr;  // deferred (a heap snapshot is streaming on this loop)
    } else {
      out["event"] = gc_event_json(iso.heap.tracer().recent().back());
    }
    return out;
  });
}

}  // namespace

json::object gc_event_json(const rh::gc_event& e) {
  return json::object{{"sequence", e.sequence},
                      {"kind", rh::kind_name(e.kind)},
                      {"reason", rh::reason_name(e.reason)},
                      {"collector_reason", e.collector_reason},
                      {"start_ms", ms(e.start)},
                      {"pause_ms", ms(e.pause)},
                      {"used_before_bytes", e.used_before_bytes},
                      {"used_after_bytes", e.used_after_bytes},
                      {"committed_before_bytes", e.committed_before_bytes},
                      {"committed_after_bytes", e.committed_after_bytes},
                      {"copied_bytes", e.copied_bytes},
                      {"promoted_bytes", e.promoted_bytes},
                      {"freed_bytes", e.freed_bytes},
                      {"objects_moved", e.objects_moved},
                      {"weak_refs_cleared", e.weak_refs_cleared},
                      {"ephemerons_cleared", e.ephemerons_cleared},
                      {"finalizers_scheduled", e.finalizers_scheduled},
                      {"average_mu", e.average_mu},
                      {"current_mu", e.current_mu}};
}

void register_debug_heap(server::router& routes, const isolate_registry& isolates) {
  routes.add("/debug/heap", {http::verb::get}, [&isolates](request& req, const request_context& ctx, responder res) {
    answer_per_loop(isolates, req, ctx, std::move(res), heap_json);
  });
  routes.add("/debug/heap/spaces", {http::verb::get},
             [&isolates](request& req, const request_context& ctx, responder res) {
               answer_per_loop(isolates, req, ctx, std::move(res), spaces_json);
             });
  routes.add("/debug/gc", {http::verb::get}, [&isolates](request& req, const request_context& ctx, responder res) {
    answer_per_loop(isolates, req, ctx, std::move(res), gc_json);
  });
  routes.add("/debug/gc", {http::verb::post}, [&isolates](request& req, const request_context& ctx, responder res) {
    force_gc(isolates, req, ctx, std::move(res));
  });
}

}  // namespace nodus::handlers
