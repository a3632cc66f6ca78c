#include "handlers/per_loop.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <string>

#include "handlers/json_response.hpp"
#include "handlers/query.hpp"
#include "server/error_response.hpp"

namespace nodus::handlers {

namespace json = boost::json;

void answer_per_loop(const isolate_registry& isolates, const server::request& req,
                     const server::request_context& ctx, server::responder res,
                     std::function<json::object(isolate&)> fn) {
  const query q(req.target());
  const auto which = select_loops(isolates, q.valid() ? q.get("loop") : std::nullopt);
  if (!q.valid() || !which) {
    return res.send(server::error_response(boost::beast::http::status::bad_request, "bad_request",
                                           "loop must be an index from 0 to " +
                                               std::to_string(isolates.size() - 1)));
  }
  auto shared = std::make_shared<server::responder>(std::move(res));
  isolates.gather<json::object>(ctx.loop, *which, std::move(fn),
                                [shared](std::vector<std::optional<json::object>> all) {
                                  json::array loops;
                                  for (auto& o : all) {
                                    if (o) loops.push_back(std::move(*o));
                                  }
                                  shared->send(json_response(json::object{{"loops", std::move(loops)}}));
                                });
}

}  // namespace nodus::handlers
