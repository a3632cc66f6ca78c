#pragma once
// What the server needs from the configuration (app/ fills it from config::config).
#include <chrono>
#include <cstdint>
#include <memory>

namespace spdlog {
class logger;
}

namespace nodus::server {

struct server_options {
  std::uint64_t max_body = 1u << 20;      // request body bytes (413 above)
  std::uint32_t max_header = 16u << 10;   // request line + header fields bytes (431 above)
  std::uint32_t max_uri = 8u << 10;       // request target bytes (414 above)
  std::uint32_t max_pipeline = 16;        // requests in flight per connection before reads pause
  std::chrono::milliseconds idle_timeout{5000};      // no byte of a next request → close
  std::chrono::milliseconds request_timeout{30000};  // header + body must arrive within this
  std::chrono::milliseconds write_timeout{30000};    // one write of queued responses
  std::chrono::milliseconds linger_timeout{2000};    // reading leftovers after a final response
  std::chrono::milliseconds shutdown_timeout{10000}; // graceful drain, then force-close
  std::shared_ptr<spdlog::logger> access_log;        // one line per request; null = off
};

}  // namespace nodus::server
