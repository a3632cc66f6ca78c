#include "handlers/objects.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <memory>

#include "handlers/json_response.hpp"
#include "handlers/object_store.hpp"
#include "handlers/objects_codec.hpp"
#include "handlers/query.hpp"
#include "runtime/heap/heap.hpp"
#include "server/error_response.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
namespace json = boost::json;
using server::error_response;
using server::request;
using server::request_context;
using server::responder;
using server::response;

namespace {

constexpr std::string_view prefix = "/objects/";

std::optional<std::uint64_t> parse_id(std::string_view text) {
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return id;
}

response stored_response(std::uint64_t id, unsigned loop, http::status status) {
  auto res = json_response(json::object{{"id", id}, {"loop", loop}}, status);
  if (status == http::status::created) res.set(http::field::location, std::string(prefix) + std::to_string(id));
  return res;
}

// The answer to a refused write: 400 for bad JSON, 507 when the heap is full.
response put_error_response(const json_parse_error& e, const runtime::heap::heap& h) {
  if (e.error != "heap_limit") return error_response(http::status::bad_request, e.error, e.detail);
  return error_response(http::status::insufficient_storage, "heap_limit",
                        e.detail + " (--max-old-space-size is " +
                            std::to_string(h.options().max_old_space_bytes / runtime::heap::mib) +
                            " MiB); stored documents are intact");
}

// Runs `op(store, iso)` on the loop that owns `id` and sends its response from the serving
// loop. `op` must be copyable (it crosses threads inside a std::function).
template <class Op>
void on_owner(const isolate_registry& isolates, const request_context& ctx, std::uint64_t id,
              responder res, Op op) {
  const auto owner = static_cast<unsigned>(id % isolates.size());
  if (owner == ctx.loop.index()) {
    isolate* here = isolates.local(owner);
    if (here == nullptr) return res.send(error_response(http::status::service_unavailable, "shutting_down", "the loop is stopping"));
    return res.send(op(here->state<object_store>(), *here));
  }
  auto shared = std::make_shared<responder>(std::move(res));
  auto& origin = ctx.loop;
  const bool posted = isolates.post(owner, [&origin, shared, op](isolate& iso) {
    response out = op(iso.state<object_store>(), iso);
    origin.post([shared, out = std::move(out)]() mutable { shared->send(std::move(out)); });
  });
  if (!posted) {
    shared->send(error_response(http::status::service_unavailable, "shutting_down",
                                "loop " + std::to_string(owner) + " is stopping"));
  }
}

void create(const isolate_registry& isolates, request& req, const request_context& ctx, responder res) {
  isolate* here = isolates.local(ctx.loop.index());
  if (here == nullptr) return res.send(error_response(http::status::service_unavailable, "shutting_down", "the loop is stopping"));
  auto& store = here->state<object_store>();
  // Stored on the serving loop; the id says which loop that is.
  const std::uint64_t id = store.next_sequence() * isolates.size() + ctx.loop.index();
  if (auto stored = store.put(id, req.body()); !stored) return res.send(put_error_response(stored.error(), here->heap));
  res.send(stored_response(id, ctx.loop.index(), http::status::created));
}

void list(const isolate_registry& isolates, const request& req, const request_context& ctx, responder res) {
  const query q(req.target());
  std::string why = "invalid query";
  const auto limit = q.valid() ? int_param(q, "limit", default_list_limit, 1, max_list_limit, why) : std::nullopt;
  const auto after = q.valid() && limit ? int_param(q, "after", 0, 0, std::numeric_limits<std::int64_t>::max(), why)
                                        : std::nullopt;
  if (!limit || !after) return res.send(error_response(http::status::bad_request, "bad_request", why));
  const auto n = static_cast<std::size_t>(*limit);
  const auto from = static_cast<std::uint64_t>(*after);
  auto shared = std::make_shared<responder>(std::move(res));
  std::vector<unsigned> all(isolates.size());
  for (unsigned k = 0; k < all.size(); ++k) all[k] = k;
  // Each loop returns its first `limit + 1` ids after `after`; merged, the first `limit`
  // are the page, and one more says whether a next page exists.
  isolates.gather<std::vector<std::uint64_t>>(
      ctx.loop, std::move(all),
      [from, n](isolate& iso) { return iso.state<object_store>().list(from, n + 1); },
      [shared, n](std::vector<std::optional<std::vector<std::uint64_t>>> per_loop) {
        std::vector<std::uint64_t> ids;
        for (auto& part : per_loop) {
          if (part) ids.insert(ids.end(), part->begin(), part->end());
        }
        std::sort(ids.begin(), ids.end());
        const bool more = ids.size() > n;
        if (more) ids.resize(n);
        json::array page(ids.begin(), ids.end());
        json::value next = more ? json::value(ids.back()) : json::value(nullptr);
        shared->send(json_response(json::object{{"ids", std::move(page)}, {"next", std::move(next)}}));
      });
}

void one(const isolate_registry& isolates, request& req, const request_context& ctx, responder res) {
  const std::string_view path = server::target_path(req.target());
  const auto id = parse_id(path.substr(std::min(path.size(), prefix.size())));
  if (!id) {
    return res.send(error_response(http::status::bad_request, "bad_id",
                                   "an object id is a non-negative integer: " + std::string(path)));
  }
  const auto not_found = [id = *id] {
    return error_response(http::status::not_found, "not_found", "no object " + std::to_string(id));
  };
  switch (req.method()) {
    case http::verb::get:
    case http::verb::head:
      return on_owner(isolates, ctx, *id, std::move(res), [id = *id, not_found](object_store& store, isolate&) {
        auto text = store.get(id);
        if (!text) return not_found();
        response out{http::status::ok, 11};
        out.set(http::field::content_type, "application/json");
        out.body() = std::move(*text);
        out.body() += '\n';
        return out;
      });
    case http::verb::put: {
      // Parsed on the owner's thread, onto the owner's heap.
      auto body = std::make_shared<const std::string>(std::move(req.body()));
      return on_owner(isolates, ctx, *id, std::move(res), [id = *id, body, not_found](object_store& store, isolate& iso) {
        if (!store.contains(id)) return not_found();
        if (auto stored = store.put(id, *body); !stored) return put_error_response(stored.error(), iso.heap);
        return stored_response(id, iso.loop.index(), http::status::ok);
      });
    }
    case http::verb::delete_:
      return on_owner(isolates, ctx, *id, std::move(res), [id = *id, not_found](object_store& store, isolate&) {
        if (!store.remove(id)) return not_found();
        return response{http::status::no_content, 11};
      });
    default:
      return res.send(error_response(http::status::method_not_allowed, "method_not_allowed", "unexpected method"));
  }
}

}  // namespace

void register_objects(server::router& routes, const isolate_registry& isolates) {
  routes.add("/objects", {http::verb::post},
             [&isolates](request& req, const request_context& ctx, responder res) {
               create(isolates, req, ctx, std::move(res));
             },
             {server::body_mode::buffered});
  routes.add("/objects", {http::verb::get},
             [&isolates](request& req, const request_context& ctx, responder res) {
               list(isolates, req, ctx, std::move(res));
             });
  routes.add_prefix(prefix, {http::verb::get, http::verb::put, http::verb::delete_},
                    [&isolates](request& req, const request_context& ctx, responder res) {
                      one(isolates, req, ctx, std::move(res));
                    },
                    {server::body_mode::buffered});
}

}  // namespace nodus::handlers
