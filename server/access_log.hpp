#pragma once
// One combined-log-like line per request:
//   127.0.0.1:53122 - - [24/Nov/2026:09:06:39 +0000] "GET /hello HTTP/1.1" 200 13 0.081ms
// (remote, method, target, version, status, body bytes sent, time from the request's first
// byte to the last byte of the response).
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace nodus::server {

struct access_entry {
  boost::asio::ip::tcp::endpoint remote;
  std::string_view method;
  std::string_view target;
  unsigned version = 11;  // 10 or 11
  unsigned status = 0;
  std::uint64_t body_bytes = 0;
  std::chrono::nanoseconds duration{0};
};

std::string format_access_line(const access_entry& e, std::time_t now);

}  // namespace nodus::server
