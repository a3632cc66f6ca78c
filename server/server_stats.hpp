#pragma once
// Per-loop server counters, filled by the loop's server; handlers/ formats them.
#include <cstdint>

namespace nodus::server {

struct loop_server_stats {
  unsigned loop_index = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_active = 0;
  std::uint64_t requests = 0;
  std::uint64_t responses = 0;
  std::uint64_t request_timeouts = 0;   // slowloris cut-offs (408)
  std::uint64_t idle_timeouts = 0;      // keep-alive connections closed for idleness
  std::uint64_t bad_requests = 0;       // 400/413/414/417/431 raised by the server itself
};

}  // namespace nodus::server
