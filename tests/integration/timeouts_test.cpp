// Idle timeout (keep-alive) and request timeout (slowloris) against the real binary.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/test_support.hpp"

using namespace nodus::testing;
using clock_type = std::chrono::steady_clock;

namespace {
double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}
}  // namespace

TEST_CASE("an idle keep-alive connection is closed after --idle-timeout", "[integration][timeouts]") {
  running_nodus n{"--idle-timeout", "0.5", "--request-timeout", "30"};
  http_client c(n.port);
  CHECK(c.get("/hello").result_int() == 200);
  const auto t0 = clock_type::now();
  const auto r = c.read_until_closed(10s);
  CHECK(r.closed);
  CHECK(r.data.empty());  // closed silently, no response
  CHECK(seconds_since(t0) >= 0.4);
}

TEST_CASE("a connection that never sends a byte is closed after --idle-timeout",
          "[integration][timeouts]") {
  running_nodus n{"--idle-timeout", "0.5", "--request-timeout", "30"};
  http_client c(n.port);
  const auto t0 = clock_type::now();
  CHECK(c.read_until_closed(10s).closed);
  CHECK(seconds_since(t0) >= 0.4);
}

TEST_CASE("empty lines do not keep an idle connection open", "[integration][timeouts]") {
  running_nodus n{"--idle-timeout", "0.5", "--request-timeout", "30"};
  http_client c(n.port);
  CHECK(c.get("/hello").result_int() == 200);
  // A CRLF every 100 ms: ignored as a request's prelude, it is no request and no activity.
  const auto t0 = clock_type::now();
  while (!c.write("\r\n") && seconds_since(t0) < 5.0) std::this_thread::sleep_for(100ms);
  const auto r = c.read_until_closed(10s);
  CHECK(r.closed);
  CHECK(r.data.empty());  // closed silently, as any idle connection
  CHECK(seconds_since(t0) < 2.0);
}

TEST_CASE("a busy connection is not closed by the idle timeout", "[integration][timeouts]") {
  running_nodus n{"--idle-timeout", "0.5", "--request-timeout", "30"};
  http_client c(n.port);
  // 2 s of requests, each gap well under the idle timeout.
  const auto t0 = clock_type::now();
  while (seconds_since(t0) < 2.0) {
    REQUIRE(c.get("/hello").result_int() == 200);
    std::this_thread::sleep_for(100ms);
  }
}

TEST_CASE("slowloris: a request trickling in is cut off at --request-timeout with 408",
          "[integration][timeouts]") {
  // The idle timeout is short but must not matter: bytes keep arriving.
  running_nodus n{"--idle-timeout", "0.5", "--request-timeout", "1.5"};
  http_client c(n.port);
  const std::string request = "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(200, 's');
  const auto t0 = clock_type::now();
  bool closed = false;
  std::string received;
  for (char ch : request) {
    if (c.write(std::string_view(&ch, 1))) {  // the server has closed
      closed = true;
      break;
    }
    const auto r = c.read_until_closed(100ms);
    received += r.data;
    if (r.closed) {
      closed = true;
      break;
    }
    if (seconds_since(t0) > 15) break;
  }
  const double elapsed = seconds_since(t0);
  REQUIRE(closed);
  CHECK(elapsed >= 1.4);
  CHECK(elapsed < 10);
  if (!received.empty()) {  // 408 unless the write raced the close and reset the socket
    CHECK(received.starts_with("HTTP/1.1 408 Request Timeout"));
    CHECK(received.find("\"request_timeout\"") != std::string::npos);
  }
}

TEST_CASE("a request trickling in within --request-timeout is served", "[integration][timeouts]") {
  running_nodus n{"--idle-timeout", "0.3", "--request-timeout", "30"};
  http_client c(n.port);
  const std::string request = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  for (char ch : request) {  // ~3 s in total, 10x the idle timeout
    REQUIRE(!c.write(std::string_view(&ch, 1)));
    std::this_thread::sleep_for(100ms);
  }
  CHECK(c.read().body() == "Hello, World!");
}
