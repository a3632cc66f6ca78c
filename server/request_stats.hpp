#pragma once
// request_stats: per-loop HTTP request counters by route, filled by the loop's server when a
// response is complete and read by handlers/ (http_requests_total, http_request_duration_seconds).
//
// Recording is on the hot path: no lock (one instance per loop, written by that loop's
// thread only) and no allocation once every (method, status) pair of a route has been seen.
#include <boost/beast/http/verb.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "server/router.hpp"

namespace nodus::server {

// Upper bounds (inclusive, ns) of the http_request_duration_seconds buckets, 0.5 ms .. 10 s:
// prom-client's defaults (5 ms .. 10 s) plus three below, where a fast server's requests land.
inline constexpr std::array<std::uint64_t, 14> request_duration_bounds_ns{
    500'000,       1'000'000,     2'500'000,     5'000'000,     10'000'000,
    25'000'000,    50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

struct request_duration_histogram {
  // Not cumulative; the last one counts what lies beyond every bound (+Inf).
  std::array<std::uint64_t, request_duration_bounds_ns.size() + 1> counts{};
  std::uint64_t count = 0;
  std::uint64_t sum_ns = 0;
  void record(std::uint64_t ns) noexcept;
};

struct response_count {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  unsigned status = 0;
  std::uint64_t count = 0;
};

struct route_request_stats {
  std::vector<response_count> responses;  // one entry per (method, status) seen, first-seen order
  request_duration_histogram duration;
};

class request_stats {
 public:
  // `routes`: how many route ids to expect (router::route_count()); more grow on demand.
  explicit request_stats(route_id routes = 1) : routes_(routes) {}

  // One completed response: its route, request method, status and the time from the request
  // header parsed to the response's last byte written.
  void record(route_id route, boost::beast::http::verb method, unsigned status,
              std::uint64_t duration_ns);

  // Indexed by route_id.
  const std::vector<route_request_stats>& routes() const noexcept { return routes_; }

 private:
  std::vector<route_request_stats> routes_;
};

}  // namespace nodus::server
