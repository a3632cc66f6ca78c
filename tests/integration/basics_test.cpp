// Endpoints, headers, HEAD, keep-alive and pipelining against the real binary.
#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "tests/integration/test_support.hpp"

using namespace nodus::testing;

TEST_CASE("GET /hello, /health and / answer with Date and Server headers", "[integration]") {
  running_nodus n;
  http_client c(n.port);

  const auto hello = c.get("/hello");
  CHECK(hello.result_int() == 200);
  CHECK(hello.body() == "Hello, World!");
  CHECK(hello[http::field::content_type] == "text/plain");
  CHECK(hello[http::field::content_length] == "13");
  CHECK(hello[http::field::server].starts_with("nodus/"));
  CHECK(hello[http::field::date].ends_with(" GMT"));
  CHECK(hello[http::field::date].size() == 29);

  const auto health = c.get("/health");
  CHECK(health.result_int() == 200);
  CHECK(health.body() == R"({"status":"ok"})");
  CHECK(health[http::field::content_type] == "application/json");
  CHECK(health["X-Nodus-Loop"] == "0");

  const auto index = c.get("/");
  CHECK(index.result_int() == 200);
  CHECK(index[http::field::content_type].starts_with("text/html"));
  CHECK(index.body().find("<") != std::string::npos);
}

TEST_CASE("curl gets /hello", "[integration][curl]") {
  running_nodus n;
  const auto r = curl("-i " + url(n.port, "/hello"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("HTTP/1.1 200 OK") != std::string::npos);
  CHECK(r.out.ends_with("\r\n\r\nHello, World!"));
}

TEST_CASE("HEAD keeps Content-Length and sends no body", "[integration]") {
  running_nodus n;
  http_client c(n.port);
  // A body after the HEAD response would be parsed as the start of the next response.
  REQUIRE(!c.write("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /health HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto head = c.read(/*head=*/true);
  CHECK(head.result_int() == 200);
  CHECK(head[http::field::content_length] == "13");
  CHECK(head.body().empty());
  const auto next = c.read();
  CHECK(next.result_int() == 200);
  CHECK(next.body() == R"({"status":"ok"})");

  const auto r = curl("-sI " + url(n.port, "/hello"));
  CHECK(r.out.find("Content-Length: 13") != std::string::npos);
}

TEST_CASE("keep-alive: one connection serves several requests", "[integration]") {
  running_nodus n;
  http_client c(n.port);
  for (int i = 0; i < 5; ++i) {
    const auto res = c.get(i % 2 == 0 ? "/hello" : "/health");
    CHECK(res.result_int() == 200);
    CHECK(res.keep_alive());
  }
  // curl reuses its connection for a second URL only when the server kept it open.
  const auto r = curl("-v " + url(n.port, "/hello") + " " + url(n.port, "/health"));
  CHECK(r.out.find("Re-using existing connection") != std::string::npos);
}

TEST_CASE("empty lines before a request line are ignored (RFC 9112 section 2.2)", "[integration]") {
  running_nodus n;
  http_client c(n.port);
  // Before the first request; after a POST body, as some clients send; a CRLF split across writes.
  REQUIRE(!c.write("\r\n\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(c.read().body() == "Hello, World!");
  REQUIRE(!c.write("POST /hash?alg=md5 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc\r\n"
                   "GET /health HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(c.read().body() == R"({"alg":"md5","digest":"900150983cd24fb0d6963f7d28e17f72","bytes":3})" "\n");
  CHECK(c.read().body() == R"({"status":"ok"})");
  REQUIRE(!c.write("\r"));
  std::this_thread::sleep_for(50ms);
  REQUIRE(!c.write("\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(c.read().body() == "Hello, World!");
}

TEST_CASE("pipelined requests are answered in order", "[integration]") {
  running_nodus n{"--max-pipeline", "2"};
  http_client c(n.port);
  // More requests than --max-pipeline in one write: reading pauses and resumes.
  const std::vector<std::string> paths{"/hello", "/health", "/nope", "/hello", "/",
                                       "/health", "/nope2", "/hello"};
  std::string batch;
  for (const auto& p : paths) batch += "GET " + p + " HTTP/1.1\r\nHost: t\r\n\r\n";
  REQUIRE(!c.write(batch));
  for (const auto& p : paths) {
    INFO("path " << p);
    const auto res = c.read();
    if (p == "/hello") {
      CHECK(res.body() == "Hello, World!");
    } else if (p == "/health") {
      CHECK(res.body() == R"({"status":"ok"})");
    } else if (p == "/") {
      CHECK(res[http::field::content_type].starts_with("text/html"));
    } else {
      CHECK(res.result_int() == 404);
      CHECK(res.body().find(p) != std::string::npos);
    }
  }
  // And the connection is still usable afterwards.
  CHECK(c.get("/hello").body() == "Hello, World!");
}

TEST_CASE("HTTP/1.0 without keep-alive gets its response, then the connection closes",
          "[integration]") {
  running_nodus n;
  http_client c(n.port);
  REQUIRE(!c.write("GET /hello HTTP/1.0\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.version() == 10);
  CHECK(res.body() == "Hello, World!");
  CHECK(c.read_until_closed(5s).closed);
}

TEST_CASE("access log: --access-log writes one line per request", "[integration]") {
  running_nodus n{"--access-log"};
  http_client c(n.port);
  CHECK(c.get("/hello").result_int() == 200);
  CHECK(c.get("/missing").result_int() == 404);
  CHECK(n.process.wait_for_stdout("\"GET /hello HTTP/1.1\" 200 13 "));
  CHECK(n.process.wait_for_stdout("\"GET /missing HTTP/1.1\" 404 "));
  CHECK(n.process.stdout_text().find("127.0.0.1:") != std::string::npos);
}

TEST_CASE("without --access-log nothing but the listening line is printed", "[integration]") {
  running_nodus n;
  http_client c(n.port);
  CHECK(c.get("/hello").result_int() == 200);
  n.process.signal(SIGTERM);
  REQUIRE(n.process.wait_exit() == 0);
  n.process.wait_output_closed();
  const std::string out = n.process.stdout_text();
  CHECK(out == "nodus listening on http://127.0.0.1:" + std::to_string(n.port) + "\n");
}
