#include "server/access_log.hpp"

#include <catch2/catch.hpp>

using namespace nodus::server;

TEST_CASE("access lines carry remote, request line, status, bytes and duration",
          "[server][access_log]") {
  access_entry e;
  e.remote = {boost::asio::ip::make_address("127.0.0.1"), 40000};
  e.method = "GET";
  e.target = "/hello?x=1";
  e.version = 11;
  e.status = 200;
  e.body_bytes = 13;
  e.duration = std::chrono::microseconds(1500);
  CHECK(format_access_line(e, 0) ==
        "127.0.0.1:40000 - - [01/Jan/1970:00:00:00 +0000] \"GET /hello?x=1 HTTP/1.1\" 200 13 "
        "1.500ms");
}
