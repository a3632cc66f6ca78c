// /demo/offload, /debug/workers, 503 on a full queue and cancel-on-disconnect, against the
// real binary with a tiny pool (--workers 1 --worker-queue 1).
#include <catch2/catch.hpp>

#include <thread>

#include "tests/integration/workers_support.hpp"

using namespace nodus::testing;
namespace json = boost::json;

TEST_CASE("GET /demo/offload: busy work on the pool while the loop keeps answering", "[workers]") {
  running_nodus n;  // one loop, one worker
  http_client busy(n.port), other(n.port);
  send_get(busy, "/demo/offload?ms=1500");
  REQUIRE(wait_stats(other, [](const json::object& s) { return kind_count(s, "offload", "busy") == 1; }));
  // The loop is free: /hello answers long before the offloaded work ends.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(other.get("/hello").result_int() == 200);
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  const auto res = busy.read();
  REQUIRE(res.result_int() == 200);
  const auto o = json_object(res.body());
  CHECK(o.at("offloaded_ms").to_number<int>() == 1500);
  CHECK(o.at("elapsed_ms").to_number<double>() >= 1500.0);
  CHECK(o.at("spins").to_number<std::uint64_t>() > 0);
  for (const char* q : {"", "?ms=-1", "?ms=10001", "?ms=x"}) {
    INFO(q);
    const auto bad = other.get(std::string("/demo/offload") + q);
    CHECK(bad.result_int() == 400);
    CHECK(json_error(bad.body()) == "bad_request");
  }
}

TEST_CASE("GET /debug/workers: counters and per-kind histograms", "[workers]") {
  running_nodus n({"--workers", "2", "--worker-queue", "7"});
  http_client c(n.port);
  auto s = debug_workers(c);
  CHECK(s.at("threads").to_number<int>() == 2);
  CHECK(s.at("sched_idle_threads").to_number<int>() == 2);  // --worker-policy idle, the default
  CHECK(s.at("queue_capacity").to_number<int>() == 7);
  CHECK(kind_count(s, "hash", "completed") == 0);
  for (int i = 0; i < 3; ++i) REQUIRE(c.get("/demo/offload?ms=5").result_int() == 200);
  REQUIRE(c.request(http::verb::post, "/hash", "abc").result_int() == 200);
  s = debug_workers(c);
  CHECK(kind_count(s, "offload", "submitted") == 3);
  CHECK(kind_count(s, "offload", "completed") == 3);
  CHECK(kind_count(s, "hash", "completed") >= 1);
  const auto& run = s.at("kinds").as_object().at("offload").as_object().at("run_time").as_object();
  CHECK(run.at("count").to_number<int>() == 3);
  CHECK(run.at("sum_ns").to_number<std::uint64_t>() >= 15'000'000);
  CHECK(run.at("p50_le_us").to_number<std::uint64_t>() >= 5000);
  const auto& buckets = run.at("buckets").as_array();
  REQUIRE_FALSE(buckets.empty());
  CHECK(buckets.back().as_object().at("count").to_number<int>() == 3);  // cumulative
}

TEST_CASE("worker policy normal (--worker-policy normal): pool threads keep the normal policy", "[workers]") {
  running_nodus n({"--workers", "2", "--worker-policy", "normal"});
  http_client c(n.port);
  CHECK(debug_workers(c).at("sched_idle_threads").to_number<int>() == 0);
}

TEST_CASE("worker queue full: 503 with Retry-After", "[workers]") {
  running_nodus n({"--workers", "1", "--worker-queue", "1"});
  http_client running(n.port), queued(n.port), rejected(n.port), probe(n.port);
  send_get(running, "/demo/offload?ms=1500");
  REQUIRE(wait_stats(probe, [](const json::object& s) { return kind_count(s, "offload", "busy") == 1; }));
  send_get(queued, "/demo/offload?ms=10");
  REQUIRE(wait_stats(probe, [](const json::object& s) { return kind_count(s, "offload", "queued") == 1; }));
  for (const std::string target : {"/demo/offload?ms=10", "/hash/files/hello.txt", "/image/files/nodus.png?width=10"}) {
    INFO(target);
    const auto res = rejected.get(target);
    CHECK(res.result_int() == 503);
    CHECK(json_error(res.body()) == "queue_full");
    CHECK(std::stoi(std::string(res[http::field::retry_after])) >= 1);
  }
  const auto res = rejected.request(http::verb::post, "/hash", "abc");
  CHECK(res.result_int() == 503);
  CHECK(running.read().result_int() == 200);
  CHECK(queued.read().result_int() == 200);
  const auto s = debug_workers(probe);
  CHECK(kind_count(s, "offload", "rejected") == 1);
  CHECK(kind_count(s, "hash", "rejected") == 2);
  CHECK(kind_count(s, "image", "rejected") == 1);
  CHECK(rejected.get("/demo/offload?ms=1").result_int() == 200);  // drained: accepted again
}

TEST_CASE("client disconnect cancels its queued job", "[workers]") {
  running_nodus n({"--workers", "1", "--worker-queue", "4"});
  http_client probe(n.port);
  http_client running(n.port);
  send_get(running, "/demo/offload?ms=1000");
  REQUIRE(wait_stats(probe, [](const json::object& s) { return kind_count(s, "offload", "busy") == 1; }));
  {
    http_client gone(n.port);
    send_get(gone, "/demo/offload?ms=3000");
    REQUIRE(wait_stats(probe, [](const json::object& s) { return kind_count(s, "offload", "queued") == 1; }));
  }  // closed while queued
  REQUIRE(wait_stats(probe, [](const json::object& s) { return kind_count(s, "offload", "cancelled") == 1; }));
  CHECK(running.read().result_int() == 200);
  const auto s = debug_workers(probe);
  CHECK(kind_count(s, "offload", "completed") == 1);  // the cancelled 3 s job never ran
  CHECK(kind_count(s, "offload", "queued") == 0);
}

TEST_CASE("client disconnect drops a running job's result", "[workers]") {
  running_nodus n({"--workers", "1"});
  http_client probe(n.port);
  {
    http_client gone(n.port);
    send_get(gone, "/demo/offload?ms=800");
    REQUIRE(wait_stats(probe, [](const json::object& s) { return kind_count(s, "offload", "busy") == 1; }));
  }
  REQUIRE(wait_stats(probe, [](const json::object& s) {
    return kind_count(s, "offload", "busy") == 0 && kind_count(s, "offload", "cancelled") == 1;
  }));
  CHECK(kind_count(debug_workers(probe), "offload", "completed") == 0);
}
