#include "server/request_stats.hpp"

namespace nodus::server {

void request_duration_histogram::record(std::uint64_t ns) noexcept {
  std::size_t i = 0;
  while (i < request_duration_bounds_ns.size() && ns > request_duration_bounds_ns[i]) ++i;
  ++counts[i];
  ++count;
  sum_ns += ns;
}

void request_stats::record(route_id route, boost::beast::http::verb method, unsigned status,
                           std::uint64_t duration_ns) {
  if (route >= routes_.size()) routes_.resize(route + 1);  // routes registered after start-up
  route_request_stats& r = routes_[route];
  r.duration.record(duration_ns);
  for (response_count& c : r.responses) {
    if (c.method == method && c.status == status) {
      ++c.count;
      return;
    }
  }
  r.responses.push_back({method, status, 1});  // first of its kind: the warm-up allocation
}

}  // namespace nodus::server
