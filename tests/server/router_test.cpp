#include "server/router.hpp"
#include "server/server_stats.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using namespace nodus::server;

namespace {
// A handler that leaves its name in the request body, so a test sees which route ran.
handler named(std::string name) {
  return [name](request& req, const request_context&, responder) { req.body() = name; };
}

// Runs the handler the router picks for (v, path); "<404>" / "<405>" when there is none.
std::string run(const router& r, http::verb v, std::string_view path) {
  const auto m = r.match(v, path);
  if (m.result == router::outcome::not_found) return "<404>";
  if (m.result == router::outcome::method_not_allowed) return "<405>";
  static nodus::runtime::loop::event_loop loop;
  const boost::asio::ip::tcp::endpoint remote;
  const loop_server_stats stats;
  request req;
  m.target->fn(req, request_context{loop, remote, stats}, responder{});
  return req.body();
}
}  // namespace

TEST_CASE("exact routes match only their path", "[server][router]") {
  router r;
  r.add("/health", {http::verb::get}, named("health"));
  CHECK(run(r, http::verb::get, "/health") == "health");
  CHECK(r.match(http::verb::get, "/health/").result == router::outcome::not_found);
  CHECK(r.match(http::verb::get, "/healthz").result == router::outcome::not_found);
  CHECK(r.match(http::verb::get, "/").result == router::outcome::not_found);
}

TEST_CASE("HEAD follows GET, other methods get 405 with the Allow list", "[server][router]") {
  router r;
  r.add("/x", {http::verb::get}, named("get"));
  r.add("/x", {http::verb::post, http::verb::put}, named("write"));
  CHECK(r.match(http::verb::head, "/x").result == router::outcome::found);
  const auto m = r.match(http::verb::delete_, "/x");
  CHECK(m.result == router::outcome::method_not_allowed);
  CHECK(m.target == nullptr);
  CHECK(m.allow == "GET, HEAD, POST, PUT");
  CHECK(run(r, http::verb::get, "/x") == "get");
  CHECK(run(r, http::verb::head, "/x") == "get");
  CHECK(run(r, http::verb::post, "/x") == "write");
  CHECK(run(r, http::verb::put, "/x") == "write");
}

TEST_CASE("an explicit HEAD replaces the one derived from GET", "[server][router]") {
  router r;
  r.add("/x", {http::verb::get}, named("get"));
  r.add("/x", {http::verb::head}, named("head"), {body_mode::none});
  CHECK(run(r, http::verb::get, "/x") == "get");
  CHECK(run(r, http::verb::head, "/x") == "head");
  CHECK_THROWS_AS(r.add("/x", {http::verb::head}, named("again")), std::invalid_argument);
}

TEST_CASE("prefix routes: exact wins, then the longest prefix", "[server][router]") {
  router r;
  r.add_prefix("/files/", {http::verb::get}, named("files"));
  r.add_prefix("/files/big/", {http::verb::get}, named("big"));
  r.add("/files/index", {http::verb::post}, named("index"), {body_mode::buffered});
  CHECK(run(r, http::verb::get, "/files/a.txt") == "files");
  CHECK(run(r, http::verb::get, "/files/big/b.bin") == "big");
  CHECK(run(r, http::verb::head, "/files/big/") == "big");
  CHECK(run(r, http::verb::get, "/files") == "<404>");
  // The exact path exists with POST only: 405, not a fall-through to the prefix.
  const auto m = r.match(http::verb::get, "/files/index");
  CHECK(m.result == router::outcome::method_not_allowed);
  CHECK(m.allow == "POST");
  CHECK(r.match(http::verb::post, "/files/index").target->options.body == body_mode::buffered);
  CHECK(r.match(http::verb::post, "/files/x").result == router::outcome::method_not_allowed);
}

TEST_CASE("registration errors throw at start-up", "[server][router]") {
  router r;
  CHECK_THROWS_AS(r.add("health", {http::verb::get}, named("h")), std::invalid_argument);
  CHECK_THROWS_AS(r.add("/h", {}, named("h")), std::invalid_argument);
  r.add("/h", {http::verb::get}, named("h"));
  CHECK_THROWS_AS(r.add("/h", {http::verb::get}, named("h2")), std::invalid_argument);
}

TEST_CASE("target_path strips the query and absolute-form prefixes", "[server][router]") {
  CHECK(target_path("/a/b?x=1") == "/a/b");
  CHECK(target_path("/a#frag") == "/a");
  CHECK(target_path("/") == "/");
  CHECK(target_path("http://example.com/a?q") == "/a");
  CHECK(target_path("http://example.com") == "/");
  CHECK(target_path("*").empty());
  CHECK(target_path("garbage").empty());
}

TEST_CASE("method_set", "[server][router]") {
  method_set s{http::verb::post, http::verb::get};
  CHECK(s.contains(http::verb::get));
  CHECK(!s.contains(http::verb::head));
  CHECK(s.allow_header() == "GET, POST");
  CHECK(method_set{}.empty());
}

TEST_CASE("router: each path or prefix has a route id and its pattern", "[server][router][metrics]") {
  router r;
  CHECK(r.route_count() == 1);
  CHECK(r.pattern(unmatched_route) == "(unmatched)");
  r.add("/hello", {http::verb::get}, named(""));
  r.add("/hello", {http::verb::post}, named(""));  // same path: same id
  r.add_prefix("/files/", {http::verb::get}, named(""));
  r.add_prefix("/", {http::verb::get}, named(""));
  REQUIRE(r.route_count() == 4);

  const auto hello = r.match(http::verb::get, "/hello");
  CHECK(r.pattern(hello.id) == "/hello");
  CHECK(r.match(http::verb::post, "/hello").id == hello.id);
  // 405 still names the route: the path matched, the method did not.
  const auto del = r.match(http::verb::delete_, "/hello");
  CHECK(del.result == router::outcome::method_not_allowed);
  CHECK(del.id == hello.id);
  // Prefix routes are named by their prefix, never by the raw path (bounded cardinality).
  CHECK(r.pattern(r.match(http::verb::get, "/files/a/b.txt").id) == "/files/");
  CHECK(r.pattern(r.match(http::verb::get, "/other").id) == "/");
  CHECK(r.pattern(999) == "(unmatched)");

  router bare;
  bare.add("/x", {http::verb::get}, named(""));
  CHECK(bare.match(http::verb::get, "/y").id == unmatched_route);
}
