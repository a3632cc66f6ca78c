#include "handlers/basic.hpp"

#include <boost/beast/http/field.hpp>

#include <string>

#include "server/error_response.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
using server::request;
using server::request_context;
using server::responder;
using server::response;

namespace {

void health(const request_context& ctx, responder res) {
  response out{http::status::ok, 11};
  out.set(http::field::content_type, "application/json");
  // Which loop answered: lets clients (and tests) see connections spread over the loops.
  out.set("X-Nodus-Loop", std::to_string(ctx.loop.index()));
  out.body() = R"({"status":"ok"})";
  res.send(std::move(out));
}

void hello(responder res) {
  response out{http::status::ok, 11};
  out.set(http::field::content_type, "text/plain");
  out.body() = "Hello, World!";
  res.send(std::move(out));
}

}  // namespace

void register_basic(server::router& routes, const config::config&) {
  routes.add("/health", {http::verb::get},
             [](request&, const request_context& ctx, responder res) {
               health(ctx, std::move(res));
             });
  routes.add("/hello", {http::verb::get},
             [](request&, const request_context&, responder res) { hello(std::move(res)); });
}

}  // namespace nodus::handlers
