// Limits and errors: 400/404/405/413/414/417/431/501/505, each with a JSON body.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/test_support.hpp"

using namespace nodus::testing;

namespace {
const std::initializer_list<std::string> small_limits{"--max-header", "2048", "--max-uri", "256",
                                                      "--max-body", "1024"};
}

TEST_CASE("a header block over --max-header gets 431 and the connection closes",
          "[integration][limits]") {
  running_nodus n(small_limits);
  http_client c(n.port);
  REQUIRE(!c.write("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(3000, 'a') +
                   "\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.result_int() == 431);
  CHECK(json_error(res.body()) == "header_fields_too_large");
  CHECK(res[http::field::content_type] == "application/json");
  CHECK(c.read_until_closed(5s).closed);
}

TEST_CASE("a target over --max-uri gets 414", "[integration][limits]") {
  running_nodus n(small_limits);
  SECTION("within the header limit") {
    http_client c(n.port);
    REQUIRE(!c.write("GET /" + std::string(300, 'x') + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto res = c.read();
    CHECK(res.result_int() == 414);
    CHECK(json_error(res.body()) == "uri_too_long");
    CHECK(c.read_until_closed(5s).closed);
  }
  SECTION("longer than the whole header limit") {
    http_client c(n.port);
    REQUIRE(!c.write("GET /" + std::string(5000, 'x') + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto res = c.read();
    CHECK(res.result_int() == 414);
    CHECK(json_error(res.body()) == "uri_too_long");
  }
}

TEST_CASE("a body where the route takes none gets 413 before the body is read",
          "[integration][limits]") {
  running_nodus n(small_limits);
  SECTION("Content-Length over --max-body") {
    http_client c(n.port);
    // Only the header is sent: the answer must not wait for the 5000 body bytes.
    REQUIRE(!c.write("GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
    const auto res = c.read();
    CHECK(res.result_int() == 413);
    CHECK(json_error(res.body()) == "payload_too_large");
    CHECK(c.read_until_closed(5s).closed);
  }
  SECTION("chunked") {
    http_client c(n.port);
    REQUIRE(!c.write("GET /hello HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"));
    const auto res = c.read();
    CHECK(res.result_int() == 413);
    CHECK(json_error(res.body()) == "payload_too_large");
  }
  SECTION("Expect: 100-continue is answered with 413, never with 100") {
    http_client c(n.port);
    REQUIRE(!c.write("GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
                     "Expect: 100-continue\r\n\r\n"));
    const auto res = c.read();  // a 100 Continue would be read here as the response
    CHECK(res.result_int() == 413);
    CHECK(json_error(res.body()) == "payload_too_large");
  }
}

TEST_CASE("curl's large upload is refused without waiting for the body", "[integration][curl]") {
  running_nodus n(small_limits);
  const std::string file = "/tmp/nodus_upload_" + std::to_string(::getpid()) + ".bin";
  {
    std::ofstream out(file, std::ios::binary);
    out << std::string(2u << 20, 'u');  // > 1 MiB: curl sends Expect: 100-continue
  }
  // With a 30 s expect timeout, a server that waited for the body would hit --max-time 10.
  const auto r = curl("-o /dev/null -w '%{http_code}' --max-time 10 --expect100-timeout 30 "
                      "-X GET --data-binary @" + file + " " + url(n.port, "/hello"));
  std::remove(file.c_str());
  CHECK(r.out == "413");
}

TEST_CASE("an unsupported Expect value gets 417", "[integration][limits]") {
  running_nodus n(small_limits);
  http_client c(n.port);
  REQUIRE(!c.write("GET /hello HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.result_int() == 417);
  CHECK(json_error(res.body()) == "expectation_failed");
}

TEST_CASE("a malformed request gets 400 and the connection closes", "[integration][limits]") {
  running_nodus n;
  const char* const bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost t\r\n\r\n",
      "GET /hello HTTP/1.x\r\nHost: t\r\n\r\n",
      "GET /hello HTTP/1.1\r\nContent-Length: x\r\n\r\n",
  };
  for (const char* request : bad) {
    INFO(request);
    http_client c(n.port);
    REQUIRE(!c.write(request));
    const auto res = c.read();
    CHECK(res.result_int() == 400);
    CHECK(json_error(res.body()) == "bad_request");
    CHECK(!res.keep_alive());
    CHECK(c.read_until_closed(5s).closed);
  }
}

TEST_CASE("an unknown path gets 404 and the connection stays usable", "[integration][limits]") {
  running_nodus n;
  http_client c(n.port);
  const auto res = c.get("/no/such/thing");
  CHECK(res.result_int() == 404);
  CHECK(json_error(res.body()) == "not_found");
  CHECK(res.keep_alive());
  CHECK(c.get("/hello").body() == "Hello, World!");
}

TEST_CASE("a wrong method gets 405 with Allow", "[integration][limits]") {
  running_nodus n;
  http_client c(n.port);
  const auto res = c.request(http::verb::delete_, "/health");
  CHECK(res.result_int() == 405);
  CHECK(res[http::field::allow] == "GET, HEAD");
  CHECK(json_error(res.body()) == "method_not_allowed");
  CHECK(c.get("/health").result_int() == 200);

  const auto r = curl("-i -X POST " + url(n.port, "/hello"));
  CHECK(r.out.find("405 Method Not Allowed") != std::string::npos);
  CHECK(r.out.find("Allow: GET, HEAD") != std::string::npos);
}

TEST_CASE("an HTTP version other than 1.0/1.1 gets 505", "[integration][limits]") {
  running_nodus n;
  http_client c(n.port);
  REQUIRE(!c.write("GET /hello HTTP/2.0\r\nHost: t\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.result_int() == 505);
  CHECK(json_error(res.body()) == "http_version_not_supported");
}

TEST_CASE("a Transfer-Encoding other than chunked is refused, its body never served as a request",
          "[integration][limits]") {
  running_nodus n;
  const char* const refused[][3] = {
      // Read as bodiless, the body (a GET here) would be parsed as the next request.
      {"HTTP/1.1", "identity", "400"},
      {"HTTP/1.1", "chunked, identity", "400"},  // RFC 9112 §6.3: chunked not last: 400, close
      // With a well-formed chunked body: the framing is understood, the request still refused.
      {"HTTP/1.0", "chunked", "400"},                        // RFC 9112 §6.1: faulty framing in HTTP/1.0
      {"HTTP/1.1", "chunked, gzip\r\nTransfer-Encoding: chunked", "400"},  // chunked twice
      {"HTTP/1.1", "gzip, chunked", "501"},                  // gzip would not be decoded
      {"HTTP/1.1", "gzip\r\nTransfer-Encoding: chunked", "501"},  // the same in two fields
  };
  for (const auto& [version, coding, status] : refused) {
    INFO(version << " Transfer-Encoding: " << coding);
    const bool chunked = std::string_view(coding).ends_with("chunked");
    http_client c(n.port);
    REQUIRE(!c.write(std::string("POST /hash ") + version + "\r\nHost: t\r\nTransfer-Encoding: " + coding +
                     "\r\n\r\n" + (chunked ? "3\r\nabc\r\n0\r\n\r\n" : "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")));
    const auto res = c.read();
    CHECK(std::to_string(res.result_int()) == status);
    CHECK(json_error(res.body()) == (res.result_int() == 501 ? "not_implemented" : "bad_request"));
    const auto rest = c.read_until_closed(5s);
    CHECK(rest.closed);
    CHECK(rest.data.empty());  // nothing more: no answer to a request inside the body
  }
  // The same list in other spellings (RFC 9110 §5.6.1: empty elements do not count).
  for (const char* coding : {"chunked,", ", chunked", "CHUNKED"}) {
    INFO("Transfer-Encoding: " << coding);
    http_client c(n.port);
    REQUIRE(!c.write(std::string("POST /hash?alg=md5 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: ") + coding +
                     "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    const auto res = c.read();
    CHECK(res.result_int() == 200);
    CHECK(res.body().find("900150983cd24fb0d6963f7d28e17f72") != std::string::npos);
  }
}

TEST_CASE("a HEAD refused before its header completed gets no body", "[integration][limits]") {
  running_nodus n(small_limits);
  using namespace std::string_literals;  // the second holds a NUL
  for (const std::string& request : {"HEAD /" + std::string(5000, 'x') + " HTTP/1.1\r\nHost: t\r\n\r\n",
                                     "HEAD /he\0llo HTTP/1.1\r\nHost: t\r\n\r\n"s}) {
    http_client c(n.port);
    REQUIRE(!c.write(request));
    const auto res = c.read(true);
    CHECK(res.result_int() >= 400);
    CHECK(res[http::field::content_type] == "application/json");
    const auto rest = c.read_until_closed(5s);
    CHECK(rest.closed);
    CHECK(rest.data.empty());  // the error body would come here
  }
  // A GET whose bad header field starts with "HEAD ": still a GET, its 400 has a body.
  http_client c(n.port);
  REQUIRE(!c.write("GET /hello HTTP/1.1\r\nHost: t\r\nHEAD / HTTP/1.1\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.result_int() == 400);
  CHECK(json_error(res.body()) == "bad_request");
}

TEST_CASE("a chunk size line or trailer over --max-header gets 413, never buffered whole", "[integration][limits]") {
  running_nodus n(small_limits);
  const std::string open = "Transfer-Encoding: chunked\r\n\r\n";
  // Beast bounds neither: without the check, 1 MiB (or a gigabyte) with no line end would pile
  // up in the session until the request timeout. A streamed route and a buffered one.
  for (const char* target : {"/hash?alg=md5", "/objects"}) {
    for (const std::string& framing : {"1;" + std::string(1 << 20, 'e'),                      // chunk extensions
                                       "2\r\n{}\r\n0\r\nX-Trailer: " + std::string(1 << 20, 't')}) {  // trailer
      INFO(target << " " << framing.substr(0, 12));
      http_client c(n.port);
      REQUIRE(!c.write(std::string("POST ") + target + " HTTP/1.1\r\nHost: t\r\n" + open + framing));
      const auto res = c.read();
      CHECK(res.result_int() == 413);
      CHECK(json_error(res.body()) == "chunk_line_too_large");
      CHECK(c.read_until_closed(5s).closed);
    }
  }
  // Within the limit, extensions and trailers are read and ignored.
  http_client c(n.port);
  REQUIRE(!c.write("POST /hash?alg=md5 HTTP/1.1\r\nHost: t\r\n" + open + "3;name=" + std::string(1000, 'v') +
                   "\r\nabc\r\n0\r\nX-Checksum: " + std::string(1000, 'c') + "\r\n\r\n"));
  const auto res = c.read();
  CHECK(res.result_int() == 200);
  CHECK(res.body().find("900150983cd24fb0d6963f7d28e17f72") != std::string::npos);
}

TEST_CASE("a line ended by a bare LF gets 400 at once, not at the request timeout", "[integration][limits]") {
  // HTTP/1.1 ends its lines with CRLF; Node answers 400 to a bare LF. Beast refuses one in a
  // head that arrives whole, but a head in two writes, and chunked framing always, it reads
  // as ordinary bytes and would wait for a CRLF: 30 s (the default request timeout).
  running_nodus n;
  for (const std::string head : {"GET /hello HTTP/1.1\nHost: t\n\n", "GET /hello HTTP/1.1\r\nHost: t\nX-A: 1"}) {
    for (const bool split : {false, true}) {
      INFO(head << (split ? ", in two writes" : ""));
      http_client c(n.port);
      if (split) {
        REQUIRE(!c.write(head.substr(0, 7)));
        std::this_thread::sleep_for(100ms);  // the server reads the first piece alone
      }
      REQUIRE(!c.write(split ? head.substr(7) : head));
      const auto res = c.read(false, 3s);
      CHECK(res.result_int() == 400);
      CHECK(json_error(res.body()) == "bad_request");
      CHECK(c.read_until_closed(5s).closed);
    }
  }
  for (const char* target : {"/hash?alg=md5", "/objects"}) {
    for (const std::string framing : {"2\n{}\n0\n\n",                 // every line
                                      "2\r\n{}\r\n0\n\n",              // the last chunk's
                                      "2\r\n{}\r\n0\r\nX-Trailer: t\n\n"}) {  // the trailer's
      INFO(target << " " << framing);
      http_client c(n.port);
      REQUIRE(!c.write(std::string("POST ") + target + " HTTP/1.1\r\nHost: t\r\n" +
                       "Transfer-Encoding: chunked\r\n\r\n" + framing));
      const auto res = c.read(false, 3s);
      CHECK(res.result_int() == 400);
      CHECK(json_error(res.body()) == "bad_request");
      CHECK(c.read_until_closed(5s).closed);
    }
  }
  // The same server still reads CRLF framing.
  http_client c(n.port);
  REQUIRE(!c.write("POST /hash?alg=md5 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  CHECK(c.read().body().find("900150983cd24fb0d6963f7d28e17f72") != std::string::npos);
}
