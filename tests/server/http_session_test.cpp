// http_session through a real socket: a loop_server on its own loop thread with test routes
// (bodies, asynchronous and out-of-order completions, dropped and cancelled responders),
// driven by the Beast test client and curl.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/loop/event_loop.hpp"
#include "server/loop_server.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/server/test_server.hpp"

using namespace nodus::testing;
using namespace nodus::server;
using nodus::runtime::loop::event_loop;

namespace {

response text(std::string body) {
  response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  return res;
}

// Shared with the /hold route: the parked responder and whether its cancel callback ran.
struct held_state {
  std::shared_ptr<responder> parked;
  std::atomic<bool> cancelled{false};
  std::atomic<bool> alive_after_cancel{true};
};

void add_test_routes(router& r, held_state* held = nullptr) {
  r.add("/echo", {http::verb::post},
        [](request& req, const request_context&, responder res) {
          res.send(text(std::move(req.body())));
        },
        {body_mode::buffered});
  // GET /slow?ms=N answers "slow N" after N ms, from a loop timer.
  r.add("/slow", {http::verb::get}, [](request& req, const request_context& ctx, responder res) {
    const std::string target(req.target());
    const int ms = std::stoi(target.substr(target.find('=') + 1));
    auto shared = std::make_shared<responder>(std::move(res));
    ctx.loop.set_timeout([shared, ms] { shared->send(text("slow " + std::to_string(ms))); }, ms);
  });
  r.add("/chunked", {http::verb::get}, [](request&, const request_context&, responder res) {
    response out = text("a chunked body");
    out.chunked(true);
    res.send(std::move(out));
  });
  r.add("/drop", {http::verb::get}, [](request&, const request_context&, responder) {});
  r.add("/throw", {http::verb::get}, [](request&, const request_context&, responder) {
    throw std::runtime_error("handler bug");
  });
  if (held != nullptr) {
    r.add("/hold", {http::verb::get}, [held](request&, const request_context&, responder res) {
      res.on_cancel([held] {
        held->alive_after_cancel = held->parked->connection_alive();
        held->cancelled = true;
      });
      held->parked = std::make_shared<responder>(std::move(res));
    });
  }
}

server_options small_options() {
  server_options o;
  o.max_body = 4u << 20;
  o.idle_timeout = std::chrono::seconds(30);
  o.request_timeout = std::chrono::seconds(30);
  o.shutdown_timeout = std::chrono::seconds(20);
  return o;
}

std::string temp_file(std::size_t bytes, char fill) {
  const std::string path = "/tmp/nodus_session_test_" + std::to_string(::getpid()) + "_" +
                           std::to_string(bytes) + ".bin";
  std::ofstream(path, std::ios::binary) << std::string(bytes, fill);
  return path;
}

}  // namespace

TEST_CASE("session: a chunked request body is read whole", "[server][session]") {
  test_server s(small_options(), [](router& r) { add_test_routes(r); });
  http_client c(s.port());
  REQUIRE(!c.write("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "hello, world");

  const std::string file = temp_file(300000, 'c');
  const auto r = curl("-o /dev/null -w '%{http_code} %{size_download}' -H 'Transfer-Encoding: chunked' "
                      "--data-binary @" + file + " " + url(s.port(), "/echo"));
  std::remove(file.c_str());
  CHECK(r.out == "200 300000");
}

TEST_CASE("session: a chunked body over max_body gets 413", "[server][session]") {
  server_options o = small_options();
  o.max_body = 10;
  test_server s(o, [](router& r) { add_test_routes(r); });
  http_client c(s.port());
  REQUIRE(!c.write("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.result_int() == 413);
  CHECK(res.body().find("payload_too_large") != std::string::npos);
  CHECK(c.read_until_closed(5s).closed);

  http_client c2(s.port());
  REQUIRE(!c2.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n"));
  CHECK(c2.read().result_int() == 413);  // decided from Content-Length, body never sent
}

TEST_CASE("session: Expect: 100-continue gets 100 Continue when the body is welcome",
          "[server][session]") {
  test_server s(small_options(), [](router& r) { add_test_routes(r); });
  SECTION("Beast client") {
    http_client c(s.port());
    REQUIRE(!c.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
                     "Expect: 100-continue\r\n\r\n"));
    const auto interim = c.read_until_closed(1s);  // the body is not sent before the 100
    CHECK(!interim.closed);
    CHECK(interim.data == "HTTP/1.1 100 Continue\r\n\r\n");
    REQUIRE(!c.write("hello world"));
    const auto res = c.read();
    CHECK(res.result_int() == 200);
    CHECK(res.body() == "hello world");
  }
  SECTION("curl, 2 MiB upload") {
    const std::string file = temp_file(2u << 20, 'e');
    // Without our 100, curl would wait the 30 s expect timeout and hit --max-time 10.
    const auto r = curl("-o /dev/null -w '%{http_code} %{size_download}' --max-time 10 "
                        "--expect100-timeout 30 --data-binary @" + file + " " +
                        url(s.port(), "/echo"));
    std::remove(file.c_str());
    CHECK(r.out == "200 2097152");
  }
}

TEST_CASE("session: responses leave in request order when handlers finish out of order",
          "[server][session]") {
  test_server s(small_options(), [](router& r) { add_test_routes(r); });
  http_client c(s.port());
  REQUIRE(!c.write("GET /slow?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /slow?ms=0 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /slow?ms=150 HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(c.read().body() == "slow 400");
  CHECK(c.read().body() == "slow 0");
  const auto chunked = c.read();
  CHECK(chunked[http::field::transfer_encoding] == "chunked");
  CHECK(chunked.body() == "a chunked body");
  CHECK(c.read().body() == "slow 150");
}

TEST_CASE("session: a full pipeline pauses reading and resumes", "[server][session]") {
  server_options o = small_options();
  o.max_pipeline = 2;
  test_server s(o, [](router& r) { add_test_routes(r); });
  http_client c(s.port());
  std::string batch;
  for (int i = 0; i < 6; ++i) batch += "GET /slow?ms=" + std::to_string(60 - 10 * i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  REQUIRE(!c.write(batch));
  for (int i = 0; i < 6; ++i) CHECK(c.read().body() == "slow " + std::to_string(60 - 10 * i));
}

TEST_CASE("session: a handler that drops its responder or throws yields 500", "[server][session]") {
  test_server s(small_options(), [](router& r) { add_test_routes(r); });
  http_client c(s.port());
  for (const char* path : {"/drop", "/throw"}) {
    INFO(path);
    const auto res = c.get(path);
    CHECK(res.result_int() == 500);
    CHECK(res.body().find("internal_error") != std::string::npos);
  }
  CHECK(c.get("/slow?ms=0").body() == "slow 0");  // the connection is still fine
}

TEST_CASE("session: a client that disconnects cancels its request, and the late answer is a no-op",
          "[server][session]") {
  held_state held;
  test_server s(small_options(), [&](router& r) { add_test_routes(r, &held); });
  {
    http_client c(s.port());
    REQUIRE(!c.write("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
    REQUIRE(eventually([&] {
      bool parked = false;
      std::promise<bool> p;
      s.post([&](loop_server&) { p.set_value(held.parked != nullptr); });
      parked = p.get_future().get();
      return parked;
    }));
  }  // disconnect
  CHECK(eventually([&] { return held.cancelled.load(); }));
  CHECK(!held.alive_after_cancel);
  std::promise<void> sent;
  s.post([&](loop_server&) {
    held.parked->send(text("too late"));  // must be harmless
    held.parked.reset();
    sent.set_value();
  });
  sent.get_future().get();
  http_client c(s.port());
  CHECK(c.get("/slow?ms=0").body() == "slow 0");
}

TEST_CASE("session: graceful shutdown waits for an asynchronous response", "[server][session]") {
  test_server s(small_options(), [](router& r) { add_test_routes(r); });
  http_client idle(s.port());
  CHECK(idle.get("/slow?ms=0").result_int() == 200);
  http_client busy(s.port());
  REQUIRE(!busy.write("GET /slow?ms=800 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(100ms);
  s.shutdown();
  CHECK(idle.read_until_closed(5s).closed);
  CHECK(!s.stopped());
  const auto res = busy.read();
  CHECK(res.body() == "slow 800");
  CHECK(!res.keep_alive());
  CHECK(eventually([&] { return s.stopped(); }));
}
