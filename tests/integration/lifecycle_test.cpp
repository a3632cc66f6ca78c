// Start-up errors, graceful shutdown and --loops.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <thread>

#include "tests/integration/test_support.hpp"

using namespace nodus::testing;

namespace {
std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// True once a new connection to `port` is refused (within `timeout`).
bool refuses_connections(std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      http_client probe(port);
    } catch (const std::exception&) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}
}  // namespace

TEST_CASE("an invalid option exits 2 with one line on stderr", "[integration][lifecycle]") {
  for (const auto& args : {std::vector<std::string>{"--port", "70000"},
                           std::vector<std::string>{"--no-such-flag"},
                           std::vector<std::string>{"--root", "/nonexistent/nodus"}}) {
    INFO(args.front());
    nodus_process p(args);
    CHECK(p.wait_exit() == 2);
    p.wait_output_closed();
    const std::string err = p.stderr_text();
    CHECK(line_count(err) == 1);
    CHECK(err.find(args.front()) != std::string::npos);
    CHECK(p.stdout_text().empty());
  }
}

TEST_CASE("a port in use exits 2 with one line on stderr", "[integration][lifecycle]") {
  running_nodus first;
  nodus_process second({"--port", std::to_string(first.port), "--loops", "2"});
  CHECK(second.wait_exit() == 2);
  second.wait_output_closed();
  const std::string err = second.stderr_text();
  CHECK(line_count(err) == 1);
  CHECK(err.find("cannot listen") != std::string::npos);
  CHECK(err.find(std::to_string(first.port)) != std::string::npos);
  // The first server is unaffected.
  http_client c(first.port);
  CHECK(c.get("/hello").result_int() == 200);
}

TEST_CASE("SIGTERM: idle connections close, in-flight requests finish, new ones are refused, exit 0",
          "[integration][lifecycle]") {
  running_nodus n{"--shutdown-timeout", "20", "--idle-timeout", "30"};
  http_client idle(n.port);
  CHECK(idle.get("/hello").result_int() == 200);
  // In flight: the header is still arriving when the signal comes.
  http_client slow(n.port);
  REQUIRE(!slow.write("GET /hello HTTP/1.1\r\nHost: t\r\n"));
  std::this_thread::sleep_for(200ms);  // let the server read the partial header

  n.process.signal(SIGTERM);
  CHECK(idle.read_until_closed(10s).closed);
  CHECK(refuses_connections(n.port, 10s));
  CHECK(!n.process.wait_exit(0ms));  // still draining the in-flight request

  REQUIRE(!slow.write("\r\n"));
  const auto res = slow.read();
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "Hello, World!");
  CHECK(!res.keep_alive());  // Connection: close on the last response
  CHECK(slow.read_until_closed(10s).closed);
  CHECK(n.process.wait_exit() == 0);
}

TEST_CASE("SIGINT with nothing in flight exits 0 at once", "[integration][lifecycle]") {
  running_nodus n{"--shutdown-timeout", "30"};
  http_client c(n.port);
  CHECK(c.get("/hello").result_int() == 200);
  const auto t0 = std::chrono::steady_clock::now();
  n.process.signal(SIGINT);
  const auto code = n.process.wait_exit(10s);
  INFO("exit code " << (code ? std::to_string(*code) : "none") << "; stderr: " << n.process.stderr_text());
  CHECK(code == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // well under --shutdown-timeout
}

TEST_CASE("shutdown force-closes a request still in flight after --shutdown-timeout",
          "[integration][lifecycle]") {
  running_nodus n{"--shutdown-timeout", "1", "--request-timeout", "60"};
  http_client stuck(n.port);
  REQUIRE(!stuck.write("GET /hello HTTP/1.1\r\n"));  // never completed
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  n.process.signal(SIGTERM);
  CHECK(n.process.wait_exit(15s) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);
  CHECK(stuck.read_until_closed(5s).closed);
}

TEST_CASE("loops: with --loops 2 both loops accept and serve", "[integration][lifecycle]") {
  running_nodus n{"--loops", "2"};
  std::set<std::string> loops_seen;
  // SO_REUSEPORT spreads connections by hash: new connections reach both loops quickly.
  for (int i = 0; i < 200 && loops_seen.size() < 2; ++i) {
    http_client c(n.port);
    const auto res = c.get("/health");
    REQUIRE(res.body() == R"({"status":"ok"})");
    loops_seen.insert(std::string(res["X-Nodus-Loop"]));
  }
  CHECK(loops_seen == std::set<std::string>{"0", "1"});
  n.process.signal(SIGTERM);
  CHECK(n.process.wait_exit() == 0);
}
