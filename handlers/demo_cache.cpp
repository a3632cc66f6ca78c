#include "handlers/demo_cache.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "handlers/json_response.hpp"
#include "handlers/per_loop.hpp"
#include "handlers/query.hpp"
#include "runtime/heap/heap.hpp"
#include "runtime/workers/hasher.hpp"
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

constexpr std::string_view key_prefix = "/demo/cache/";
constexpr std::string_view pbkdf2_salt = "nodus demo cache";

enum class source { lru, weakref, computed };

std::string_view source_name(source s) {
  switch (s) {
    case source::lru: return "lru";
    case source::weakref: return "weakref";
    case source::computed: return "computed";
  }
  return "?";
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > cache_max_key_bytes) return false;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
    if (!ok) return false;
  }
  return true;
}

// The expensive computation: PBKDF2-HMAC-SHA256(key) stretched to the value's size.
bool derive(std::string_view key, std::span<std::byte> out) {
  return PKCS5_PBKDF2_HMAC(key.data(), static_cast<int>(key.size()),
                           reinterpret_cast<const unsigned char*>(pbkdf2_salt.data()),
                           static_cast<int>(pbkdf2_salt.size()), static_cast<int>(cache_pbkdf2_iterations),
                           EVP_sha256(), static_cast<int>(out.size()),
                           reinterpret_cast<unsigned char*>(out.data())) == 1;
}

// What the registry's cleanup callback needs; it holds a weak_ptr, since the callback lives
// in the heap's side table, which outlives the cache state.
struct cache_core {
  weak_cache_stats stats;
  rh::persistent<rh::js_object> table;  // key → WeakRef(value)
};

struct lookup_result {
  source from = source::computed;
  std::string value_prefix;  // hex of the value's first 16 bytes
  std::size_t value_bytes = 0;
  double compute_ms = 0;
};

// One loop's cache. Loop thread only.
class weak_cache {
 public:
  explicit weak_cache(isolate& iso) : iso_(iso), core_(std::make_shared<cache_core>()) {}
  ~weak_cache() {
    lru_.clear();
    core_->table.reset();
    registry_.reset();
  }
  weak_cache(const weak_cache&) = delete;
  weak_cache& operator=(const weak_cache&) = delete;

  rh::result<lookup_result> lookup(const std::string& key) {
    rh::heap& h = iso_.heap;
    if (auto ready = ensure_heap_objects(); !ready) return ready.error();
    rh::handle_scope scope(h);
    ++core_->stats.lookups;
    if (auto it = lru_.find(key); it != lru_.end()) {
      order_.splice(order_.begin(), order_, it->second.position);  // most recent first
      ++core_->stats.hits_lru;
      return describe(source::lru, it->second.value.get());
    }
    auto table = core_->table.as_local();
    if (auto ref = h.get_property(table, key); ref && ref->is_reference()) {
      const rh::value target = h.weak_ref_deref(scope.make<rh::weak_ref_object>(*ref));
      if (target.is_reference()) {
        ++core_->stats.hits_weakref;
        remember(key, target);
        return describe(source::weakref, target);
      }
      h.delete_property(table, key);  // cleared by a GC before the cleanup task ran
      ++core_->stats.cleared_seen_on_lookup;
    }
    return compute(key);
  }

  weak_cache_stats stats() const {
    weak_cache_stats s = core_->stats;
    s.lru_entries = lru_.size();
    s.weakref_entries = core_->table.empty() ? 0 : iso_.heap.property_count(core_->table.as_local());
    return s;
  }

 private:
  struct lru_entry {
    std::list<std::string>::iterator position;
    rh::persistent<rh::byte_array_object> value;
  };

  rh::result<void> ensure_heap_objects() {
    if (!core_->table.empty()) return {};
    rh::heap& h = iso_.heap;
    rh::handle_scope scope(h);
    auto table = h.new_object();
    if (!table) return table.error();
    auto registry = h.new_finalization_registry(
        [core = std::weak_ptr<cache_core>(core_)](rh::heap& heap, rh::local<> held) {
          auto c = core.lock();
          if (!c || c->table.empty()) return;
          ++c->stats.cleared_by_gc;
          if (held->kind() != rh::object_kind::string) return;
          const std::string_view key = held.cast<rh::string_object>()->view();
          // The key may hold a newer value by now: delete only an emptied WeakRef.
          const auto ref = heap.get_property(c->table.as_local(), key);
          if (ref && ref->is_reference() && ref->as<rh::weak_ref_object>()->target.is_undefined()) {
            heap.delete_property(c->table.as_local(), key);
          }
        });
    if (!registry) return registry.error();
    core_->table = rh::persistent<rh::js_object>(h, *table);
    registry_ = rh::persistent<rh::finalization_registry_object>(h, *registry);
    return {};
  }

  rh::result<lookup_result> compute(const std::string& key) {
    rh::heap& h = iso_.heap;
    rh::handle_scope scope(h);
    auto value = h.new_byte_array(cache_value_bytes);
    if (!value) return value.error();
    const auto start = std::chrono::steady_clock::now();
    // No allocation until derive() returns: the raw bytes stay where they are.
    if (!derive(key, (*value)->bytes())) return make_error_code(rh::heap_errc::invalid_argument);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    core_->stats.compute_ns += static_cast<std::uint64_t>(std::chrono::nanoseconds(elapsed).count());
    ++core_->stats.misses;
    auto name = h.new_string(key);
    if (!name) return name.error();
    auto ref = h.new_weak_ref(value->get());
    if (!ref) return ref.error();
    if (auto r = h.finalization_register(registry_.as_local(), value->get(), name->get()); !r) return r.error();
    if (auto r = h.set_property(core_->table.as_local(), *name, ref->get()); !r) return r.error();
    remember(key, value->get());
    lookup_result out = describe(source::computed, value->get());
    out.compute_ms = std::chrono::duration<double, std::milli>(elapsed).count();
    return out;
  }

  // Puts `value` at the LRU's front, evicting the least recently used entry beyond capacity.
  void remember(const std::string& key, rh::value value) {
    if (auto it = lru_.find(key); it != lru_.end()) {
      order_.erase(it->second.position);
      lru_.erase(it);
    }
    order_.push_front(key);
    lru_.insert_or_assign(key, lru_entry{order_.begin(), rh::persistent<rh::byte_array_object>(iso_.heap, value)});
    if (lru_.size() > cache_lru_capacity) {
      lru_.erase(order_.back());
      order_.pop_back();
    }
  }

  static lookup_result describe(source from, rh::value value) {
    lookup_result r;
    r.from = from;
    const auto bytes = value.as<rh::byte_array_object>()->bytes();
    r.value_bytes = bytes.size();
    const auto head = bytes.first(std::min<std::size_t>(16, bytes.size()));
    r.value_prefix = runtime::workers::to_hex(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(head.data()), head.size()));
    return r;
  }

  isolate& iso_;
  std::shared_ptr<cache_core> core_;
  rh::persistent<rh::finalization_registry_object> registry_;
  std::list<std::string> order_;  // most recently used first
  std::unordered_map<std::string, lru_entry> lru_;
};

void get_value(const isolate_registry& isolates, const request& req, const request_context& ctx,
               responder res) {
  const std::string_view path = server::target_path(req.target());
  const std::string key(path.substr(key_prefix.size()));
  if (!valid_key(key)) {
    return res.send(error_response(http::status::bad_request, "bad_request",
                                   "the key must be 1 to " + std::to_string(cache_max_key_bytes) +
                                       " characters of A-Z a-z 0-9 - _ . ~"));
  }
  isolate* iso = isolates.local(ctx.loop.index());
  if (iso == nullptr) {
    return res.send(error_response(http::status::service_unavailable, "unavailable", "loop is shutting down"));
  }
  weak_cache& cache = iso->state<weak_cache>();
  auto found = cache.lookup(key);
  if (!found) {
    if (found.error() == rh::heap_errc::out_of_memory) {
      return res.send(error_response(http::status::insufficient_storage, "heap_limit",
                                     "the loop's heap cannot hold the value (--max-old-space-size is " +
                                         std::to_string(iso->heap.options().max_old_space_bytes / rh::mib) +
                                         " MiB)"));
    }
    return res.send(error_response(http::status::internal_server_error, "cache_error", found.error().message()));
  }
  json::object body{{"key", key},
                    {"hit", found->from != source::computed},
                    {"source", source_name(found->from)},
                    {"loop", ctx.loop.index()},
                    {"value_bytes", found->value_bytes},
                    {"value_prefix", found->value_prefix}};
  if (found->from == source::computed) body["compute_ms"] = found->compute_ms;
  body["stats"] = weak_cache_stats_json(cache.stats());
  res.send(json_response(body));
}

void get_stats(const isolate_registry& isolates, const request& req, const request_context& ctx,
               responder res) {
  answer_per_loop(isolates, req, ctx, std::move(res), [](isolate& iso) {
    json::object o = weak_cache_stats_json(demo_cache_stats(iso));
    o["loop"] = iso.loop.index();
    return o;
  });
}

}  // namespace

weak_cache_stats demo_cache_stats(isolate& iso) { return iso.state<weak_cache>().stats(); }

json::object weak_cache_stats_json(const weak_cache_stats& s) {
  return json::object{{"lookups", s.lookups},
                      {"hits", s.hits_lru + s.hits_weakref},
                      {"hits_lru", s.hits_lru},
                      {"hits_weakref", s.hits_weakref},
                      {"misses", s.misses},
                      {"cleared_by_gc", s.cleared_by_gc},
                      {"cleared_seen_on_lookup", s.cleared_seen_on_lookup},
                      {"compute_ms", static_cast<double>(s.compute_ns) / 1e6},
                      {"lru_entries", s.lru_entries},
                      {"lru_capacity", s.lru_capacity},
                      {"weakref_entries", s.weakref_entries}};
}

void register_demo_cache(server::router& routes, const isolate_registry& isolates) {
  routes.add_prefix(key_prefix, {http::verb::get},
                    [&isolates](request& req, const request_context& ctx, responder res) {
                      get_value(isolates, req, ctx, std::move(res));
                    });
  routes.add("/demo/cache", {http::verb::get},
             [&isolates](request& req, const request_context& ctx, responder res) {
               get_stats(isolates, req, ctx, std::move(res));
             });
}

}  // namespace nodus::handlers
