#include "handlers/demo_leak.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/json_response.hpp"
#include "handlers/per_loop.hpp"
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

enum class leak_kind { closure, listener, interval };

// Which "JavaScript function" a closure runs (closure_object::function_id).
constexpr std::uint64_t closure_function_id = 1;   // () => big.length, kept in emitter.callbacks
constexpr std::uint64_t listener_function_id = 2;  // the 'data' listener
constexpr std::uint64_t interval_function_id = 3;  // the interval callback
// The closures' context: slot 0 the captured ByteArray, slot 1 a call counter.
constexpr std::uint32_t captured_slot = 0;
constexpr std::uint32_t calls_slot = 1;
constexpr std::uint32_t context_slots = 2;

constexpr std::string_view callbacks_key = "callbacks";
constexpr std::string_view events_key = "_events";
constexpr std::string_view event_name = "data";

std::string_view kind_name(leak_kind k) {
  switch (k) {
    case leak_kind::closure: return "closure";
    case leak_kind::listener: return "listener";
    case leak_kind::interval: return "interval";
  }
  return "?";
}

bool is_kind(rh::value v, rh::object_kind k) {
  return v.is_reference() && v.as_object()->kind() == k;
}

// An interval leak: the timer's C++ callback holds the heap closure through a persistent
// handle, as Node's timer list holds a setInterval callback.
struct interval_leak {
  rh::persistent<rh::closure_object> callback;
  runtime::loop::timer_id timer;
};

// What a set of leaked closures retains, read from the heap.
struct retained {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;  // captured ByteArray lengths
  std::uint64_t calls = 0;  // times the closures ran (interval ticks)

  void add(rh::value closure) {
    if (!is_kind(closure, rh::object_kind::closure)) return;
    ++count;
    const rh::value ctx = closure.as<rh::closure_object>()->context;
    if (!is_kind(ctx, rh::object_kind::context)) return;
    const auto* c = ctx.as<rh::context_object>();
    const rh::value big = c->slots()[captured_slot];
    if (is_kind(big, rh::object_kind::byte_array)) bytes += big.as<rh::byte_array_object>()->length;
    const rh::value calls_value = c->slots()[calls_slot];
    if (calls_value.is_integer()) calls += static_cast<std::uint64_t>(calls_value.as_integer());
  }
  void add_array(rh::value array) {
    if (!is_kind(array, rh::object_kind::array)) return;
    const auto* a = array.as<rh::array_object>();
    if (!a->elements.is_reference()) return;
    const rh::value* slots = a->elements.as<rh::fixed_array_object>()->slots();
    for (std::uint32_t i = 0; i < a->length; ++i) add(slots[i]);
  }
  json::object to_json(bool with_calls) const {
    json::object o{{"count", count}, {"bytes", bytes}};
    if (with_calls) o["ticks"] = calls;
    return o;
  }
};

// Builds `count` closures of `function_id`, each over a context capturing a fresh ByteArray
// of `bytes`, into a new array. May trigger GC; on failure nothing outside the heap changed.
rh::result<rh::local<rh::array_object>> build_closures(rh::heap& h, std::uint64_t function_id,
                                                        std::size_t bytes, std::size_t count) {
  rh::escapable_handle_scope scope(h);
  auto batch = h.new_array(count);
  if (!batch) return batch.error();
  for (std::size_t i = 0; i < count; ++i) {
    rh::handle_scope inner(h);
    auto big = h.new_byte_array(bytes);
    if (!big) return big.error();
    auto ctx = h.new_context(rh::value::null(), context_slots);
    if (!ctx) return ctx.error();
    h.context_set(*ctx, captured_slot, big->get());
    h.context_set(*ctx, calls_slot, rh::value::integer(0));
    auto fn = h.new_closure(function_id, ctx->get());
    if (!fn) return fn.error();
    if (auto pushed = h.array_push(*batch, fn->get()); !pushed) return pushed.error();
  }
  return scope.escape(*batch);
}

// holder[key] = [...holder[key], ...batch]. Only the new array (and a new key) allocate, and
// both happen before anything is stored, so a failure leaves `holder` as it was.
rh::result<void> append(rh::heap& h, rh::local<rh::js_object> holder, std::string_view key,
                        rh::local<rh::array_object> batch) {
  rh::handle_scope scope(h);
  const std::optional<rh::value> current = h.get_property(holder, key);
  rh::local<rh::array_object> old;
  std::uint32_t old_length = 0;
  if (current && is_kind(*current, rh::object_kind::array)) {
    old = scope.make<rh::array_object>(*current);
    old_length = h.array_length(old);
  }
  const std::uint32_t batch_length = h.array_length(batch);
  auto merged = h.new_array(std::size_t{old_length} + batch_length);
  if (!merged) return merged.error();
  for (std::uint32_t i = 0; i < old_length; ++i) {
    if (auto r = h.array_push(*merged, h.array_get(old, i)); !r) return r.error();
  }
  for (std::uint32_t i = 0; i < batch_length; ++i) {
    if (auto r = h.array_push(*merged, h.array_get(batch, i)); !r) return r.error();
  }
  return h.set_property(holder, key, merged->get());
}

// The interval callback's body: it runs the closure, which uses what it captured.
void run_interval(rh::heap& h, interval_leak& leak) {
  if (leak.callback.empty()) return;
  rh::handle_scope scope(h);
  const rh::value ctx_value = leak.callback->context;
  if (!is_kind(ctx_value, rh::object_kind::context)) return;
  auto ctx = scope.make<rh::context_object>(ctx_value);
  const rh::value calls = h.context_get(ctx, calls_slot);
  const std::int32_t n = calls.is_integer() ? calls.as_integer() : 0;
  if (n < std::numeric_limits<std::int32_t>::max()) h.context_set(ctx, calls_slot, rh::value::integer(n + 1));
}

// One loop's leaks: the global emitter and the live intervals. Loop thread only.
class leak_state {
 public:
  explicit leak_state(isolate& iso) : iso_(iso) {}
  ~leak_state() { clear_intervals(); }  // before the heap dies (isolate::~isolate)
  leak_state(const leak_state&) = delete;
  leak_state& operator=(const leak_state&) = delete;

  rh::result<void> leak(leak_kind kind, std::size_t bytes, std::size_t count, std::int64_t ms) {
    rh::heap& h = iso_.heap;
    rh::handle_scope scope(h);
    auto emitter = ensure_emitter();
    if (!emitter) return emitter.error();
    switch (kind) {
      case leak_kind::closure: {
        auto batch = build_closures(h, closure_function_id, bytes, count);
        if (!batch) return batch.error();
        return append(h, *emitter, callbacks_key, *batch);
      }
      case leak_kind::listener: {
        auto batch = build_closures(h, listener_function_id, bytes, count);
        if (!batch) return batch.error();
        return append(h, events(scope), event_name, *batch);
      }
      case leak_kind::interval: {
        auto batch = build_closures(h, interval_function_id, bytes, count);
        if (!batch) return batch.error();
        for (std::uint32_t i = 0; i < count; ++i) start_interval(h.array_get(*batch, i), ms);
        return {};
      }
    }
    return {};
  }

  json::object report() const {
    const retained c = closures(), l = listeners(), t = intervals();
    const rh::heap& h = iso_.heap;
    return json::object{
        {"loop", iso_.loop.index()},
        {"retained", json::object{{"closures", c.to_json(false)},
                                  {"listeners", l.to_json(false)},
                                  {"intervals", t.to_json(true)},
                                  {"bytes", c.bytes + l.bytes + t.bytes}}},
        {"heap", json::object{{"old_generation_used_bytes", h.old_generation_used_bytes()},
                              {"young_used_bytes", h.young_used_bytes()}}},
        {"leak_detector", leak_status_json(h.leaks().status())},
    };
  }

  // The fix: drop the callbacks, remove the listeners, clear the intervals.
  json::object fix() {
    const retained c = closures(), l = listeners(), t = intervals();
    if (!emitter_.empty()) {
      rh::handle_scope scope(iso_.heap);
      iso_.heap.delete_property(emitter_.as_local(), callbacks_key);
      iso_.heap.delete_property(events(scope), event_name);  // emitter.removeAllListeners('data')
    }
    clear_intervals();
    return json::object{{"loop", iso_.loop.index()},
                        {"removed", json::object{{"closures", c.count},
                                                 {"listeners", l.count},
                                                 {"intervals", t.count},
                                                 {"bytes", c.bytes + l.bytes + t.bytes}}}};
  }

 private:
  rh::result<rh::local<rh::js_object>> ensure_emitter() {
    if (emitter_.empty()) {
      rh::heap& h = iso_.heap;
      rh::handle_scope scope(h);
      auto emitter = h.new_object(2);
      if (!emitter) return emitter.error();
      auto events = h.new_object(1);
      if (!events) return events.error();
      if (auto set = h.set_property(*emitter, events_key, events->get()); !set) return set.error();
      emitter_ = rh::persistent<rh::js_object>(h, *emitter);
    }
    return emitter_.as_local();
  }

  // emitter._events, as a handle in `scope` (which must be the innermost scope). The emitter
  // must exist; _events is never removed from it.
  rh::local<rh::js_object> events(rh::handle_scope& scope) const {
    return scope.make<rh::js_object>(iso_.heap.get_property(emitter_.as_local(), events_key).value());
  }

  void start_interval(rh::value closure, std::int64_t ms) {
    auto leak = std::make_shared<interval_leak>();
    leak->callback = rh::persistent<rh::closure_object>(iso_.heap, closure);
    rh::heap& h = iso_.heap;
    leak->timer = iso_.loop.set_interval([&h, leak] { run_interval(h, *leak); }, ms);
    // Unlike Node, where a forgotten interval keeps the process alive, the demo's timers
    // must not hold up a graceful shutdown.
    iso_.loop.unref_timer(leak->timer);
    intervals_.push_back(std::move(leak));
  }

  void clear_intervals() noexcept {
    for (auto& leak : intervals_) {
      iso_.loop.clear_timer(leak->timer);
      leak->callback.reset();  // the timer's copy of `leak` may outlive the heap
    }
    intervals_.clear();
  }

  retained closures() const {
    retained r;
    if (emitter_.empty()) return r;
    if (auto v = iso_.heap.get_property(emitter_.as_local(), callbacks_key)) r.add_array(*v);
    return r;
  }
  retained listeners() const {
    retained r;
    if (emitter_.empty()) return r;
    rh::handle_scope scope(iso_.heap);
    if (auto v = iso_.heap.get_property(events(scope), event_name)) r.add_array(*v);
    return r;
  }
  retained intervals() const {
    retained r;
    for (const auto& leak : intervals_) r.add(leak->callback.get());
    return r;
  }

  isolate& iso_;
  rh::persistent<rh::js_object> emitter_;
  std::vector<std::shared_ptr<interval_leak>> intervals_;
};

void post_leak(leak_kind kind, const isolate_registry& isolates, const request& req,
               const request_context& ctx, responder res) {
  const query q(req.target());
  if (!q.valid()) return res.send(error_response(http::status::bad_request, "bad_request", "invalid query"));
  std::string why;
  const auto kb = int_param(q, "kb", leak_default_kb, 1, leak_max_kb, why);
  const auto count = kb ? int_param(q, "count", 1, 1, leak_max_count, why) : std::nullopt;
  const auto ms = count ? int_param(q, "ms", leak_default_interval_ms, 1, 3'600'000, why) : std::nullopt;
  if (!ms) return res.send(error_response(http::status::bad_request, "bad_request", why));
  if (*kb * *count > leak_max_request_kb) {
    return res.send(error_response(http::status::bad_request, "bad_request",
                                   "kb * count must be at most " + std::to_string(leak_max_request_kb) +
                                       " (1 GiB per request)"));
  }
  isolate* iso = isolates.local(ctx.loop.index());
  if (iso == nullptr) {
    return res.send(error_response(http::status::service_unavailable, "unavailable", "loop is shutting down"));
  }
  const auto bytes = static_cast<std::size_t>(*kb) * 1024;
  auto done = iso->state<leak_state>().leak(kind, bytes, static_cast<std::size_t>(*count), *ms);
  if (!done) {
    if (done.error() == rh::heap_errc::out_of_memory) {
      return res.send(error_response(
          http::status::insufficient_storage, "heap_limit",
          "the loop's heap cannot hold " + std::to_string(*count) + " x " + std::to_string(*kb) +
              " KiB more (--max-old-space-size is " +
              std::to_string(iso->heap.options().max_old_space_bytes / rh::mib) +
              " MiB); what was retained before is intact"));
    }
    return res.send(error_response(http::status::internal_server_error, "heap_error", done.error().message()));
  }
  json::object body = iso->state<leak_state>().report();
  body["pattern"] = kind_name(kind);
  body["added"] = json::object{{"count", *count}, {"kb", *kb}, {"bytes", static_cast<std::uint64_t>(bytes) * *count}};
  if (kind == leak_kind::interval) body["added"].as_object()["ms"] = *ms;
  res.send(json_response(body));
}

// GET reports, DELETE fixes: on every loop, or the one named by ?loop=k.
void on_loops(const isolate_registry& isolates, const request& req, const request_context& ctx,
              responder res, bool fix) {
  answer_per_loop(isolates, req, ctx, std::move(res), [fix](isolate& iso) {
    return fix ? iso.state<leak_state>().fix() : iso.state<leak_state>().report();
  });
}

}  // namespace

std::string_view demo_leak_function_name(std::uint64_t function_id) noexcept {
  switch (function_id) {
    case closure_function_id: return "retainedCallback";
    case listener_function_id: return "onData";
    case interval_function_id: return "onInterval";
    default: return {};
  }
}

json::object leak_status_json(const rh::leak_status& s) {
  return json::object{{"suspected", s.suspected},
                      {"major_gcs_seen", s.major_gcs_seen},
                      {"growing_gcs", s.growing_gcs},
                      {"run_start_bytes", s.run_start_bytes},
                      {"last_used_after_bytes", s.last_used_after_bytes},
                      {"growth_bytes", s.growth_bytes},
                      {"suspicions", s.suspicions},
                      {"suspected_since_gc", s.suspected_since_gc}};
}

void register_demo_leak(server::router& routes, const isolate_registry& isolates) {
  for (const leak_kind kind : {leak_kind::closure, leak_kind::listener, leak_kind::interval}) {
    routes.add("/demo/leak/" + std::string(kind_name(kind)), {http::verb::post},
               [kind, &isolates](request& req, const request_context& ctx, responder res) {
                 post_leak(kind, isolates, req, ctx, std::move(res));
               });
  }
  routes.add("/demo/leak", {http::verb::get},
             [&isolates](request& req, const request_context& ctx, responder res) {
               on_loops(isolates, req, ctx, std::move(res), false);
             });
  routes.add("/demo/leak", {http::verb::delete_},
             [&isolates](request& req, const request_context& ctx, responder res) {
               on_loops(isolates, req, ctx, std::move(res), true);
             });
}

}  // namespace nodus::handlers
