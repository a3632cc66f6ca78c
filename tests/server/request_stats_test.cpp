#include "server/request_stats.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace nodus::server;
namespace http = boost::beast::http;

TEST_CASE("request_stats counts responses per route, method and status", "[server][metrics]") {
  request_stats s(3);
  s.record(1, http::verb::get, 200, 1'000);
  s.record(1, http::verb::get, 200, 2'000);
  s.record(1, http::verb::get, 404, 3'000);
  s.record(1, http::verb::head, 200, 4'000);
  s.record(0, http::verb::unknown, 400, 5'000);
  REQUIRE(s.routes().size() == 3);

  const auto& r1 = s.routes()[1];
  REQUIRE(r1.responses.size() == 3);
  CHECK(r1.responses[0].method == http::verb::get);
  CHECK(r1.responses[0].status == 200);
  CHECK(r1.responses[0].count == 2);
  CHECK(r1.responses[1].status == 404);
  CHECK(r1.responses[2].method == http::verb::head);
  CHECK(r1.duration.count == 4);
  CHECK(r1.duration.sum_ns == 10'000);
  CHECK(s.routes()[0].responses.at(0).status == 400);
  CHECK(s.routes()[2].duration.count == 0);

  // An id beyond the expected range (a route added later) grows the table.
  s.record(7, http::verb::get, 200, 1);
  CHECK(s.routes().size() == 8);
  CHECK(s.routes()[7].responses.at(0).count == 1);
}

TEST_CASE("request_duration_histogram: bounds are inclusive, beyond the last is +Inf",
          "[server][metrics]") {
  request_duration_histogram h;
  h.record(0);
  h.record(request_duration_bounds_ns[0]);      // exactly 0.5 ms: first bucket
  h.record(request_duration_bounds_ns[0] + 1);  // just above: second
  h.record(request_duration_bounds_ns.back() + 1);
  CHECK(h.counts[0] == 2);
  CHECK(h.counts[1] == 1);
  CHECK(h.counts.back() == 1);
  CHECK(h.count == 4);
  // prom-client's default buckets are all there (dashboards pick quantiles from them).
  for (double seconds : {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0}) {
    const auto ns = static_cast<std::uint64_t>(seconds * 1e9 + 0.5);
    CHECK(std::find(request_duration_bounds_ns.begin(), request_duration_bounds_ns.end(), ns) !=
          request_duration_bounds_ns.end());
  }
  for (std::size_t i = 1; i < request_duration_bounds_ns.size(); ++i) {
    CHECK(request_duration_bounds_ns[i - 1] < request_duration_bounds_ns[i]);
  }
}
