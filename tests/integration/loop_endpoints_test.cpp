// The event loop over HTTP: /debug/loop, POST /debug/loop/scenario (and --run-scenario),
// /demo/block and /demo/starve against the real binary.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "tests/integration/http_client.hpp"
#include "tests/integration/nodus_process.hpp"

using namespace nodus::testing;
namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

namespace {

json::value parse_json(const http_response& res) { return json::parse(res.body()); }

// NODE_COMPAT §1 in one scenario: nextTick before promise, immediate before timeout(0)
// inside I/O, and a nextTick queued from a microtask runs after the microtask queue empties.
constexpr std::string_view rules_scenario = R"({"ops":[
  {"op":"timeout","label":"timeout0","ms":0},
  {"op":"immediate","label":"immediate"},
  {"op":"promise","label":"promise1","then":[{"op":"nextTick","label":"tick-from-microtask"}]},
  {"op":"microtask","label":"microtask2"},
  {"op":"nextTick","label":"tick"}]})";
constexpr std::string_view rules_order =
    R"({"order":["tick","promise1","microtask2","tick-from-microtask","immediate","timeout0"]})";

}  // namespace

TEST_CASE("GET /debug/loop reports every loop, or the one asked for", "[integration][loop]") {
  nodus_process p({"--port", "0", "--loops", "2"});
  http_client c(p.wait_listening());

  auto all = parse_json(c.get("/debug/loop"));
  const auto& loops = all.at("loops").as_array();
  REQUIRE(loops.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    const auto& l = loops[k].as_object();
    CHECK(l.at("loop").to_number<unsigned>() == k);
    CHECK(l.at("iterations").to_number<std::uint64_t>() > 0);
    CHECK(l.at("active_handles").as_object().contains("TCPServerWrap"));
    const auto& elu = l.at("event_loop_utilization").as_object();
    CHECK(elu.at("utilization").to_number<double>() >= 0.0);
    CHECK(elu.at("utilization").to_number<double>() <= 1.0);
    for (const char* phase : {"pending", "poll", "check", "close", "timers"}) {
      CHECK(l.at("phases").as_object().contains(phase));
    }
    CHECK(l.at("event_loop_delay").as_object().contains("percentiles"));
  }

  auto one = parse_json(c.get("/debug/loop?loop=1"));
  REQUIRE(one.at("loops").as_array().size() == 1);
  CHECK(one.at("loops").as_array()[0].at("loop").to_number<unsigned>() == 1);

  for (const char* bad : {"/debug/loop?loop=2", "/debug/loop?loop=-1", "/debug/loop?loop=x"}) {
    INFO(bad);
    const auto res = c.get(bad);
    CHECK(res.result_int() == 400);
    CHECK(parse_json(res).at("error").as_string() == "bad_request");
  }
}

TEST_CASE("scenarios run on the live loop and from the command line alike", "[integration][loop]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  http_client c(p.wait_listening());
  auto res = c.request(http::verb::post, "/debug/loop/scenario", std::string(rules_scenario));
  REQUIRE(res.result_int() == 200);
  CHECK(json::parse(res.body()) == json::parse(rules_order));

  res = c.request(http::verb::post, "/debug/loop/scenario", R"({"ops":[{"op":"sleep"}]})");
  CHECK(res.result_int() == 400);
  CHECK(parse_json(res).at("error").as_string() == "invalid_scenario");
  res = c.request(http::verb::post, "/debug/loop/scenario", "{not json");
  CHECK(res.result_int() == 400);
  CHECK(c.get("/health").result_int() == 200);  // the loop lives on

  const auto file = std::filesystem::temp_directory_path() /
                    ("nodus-scenario-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << rules_scenario;
  nodus_process cli({"--run-scenario", file.string()});
  REQUIRE(cli.wait_exit() == 0);
  REQUIRE(cli.wait_output_closed());
  CHECK(json::parse(cli.stdout_text()) == json::parse(rules_order));

  std::ofstream(file) << R"({"ops":[{"op":"timeout","ms":"soon"}]})";
  nodus_process bad_cli({"--run-scenario", file.string()});
  CHECK(bad_cli.wait_exit() == 2);
  REQUIRE(bad_cli.wait_output_closed());
  CHECK(bad_cli.stderr_text().find("--run-scenario") != std::string::npos);
  std::filesystem::remove(file);
}

TEST_CASE("/demo/block stalls every request on its loop and shows in the delay histogram",
          "[integration][loop]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  const auto port = p.wait_listening();
  http_client blocker(port), other(port), observer(port);
  CHECK(other.get("/hello").result_int() == 200);  // connection established before the block
  // The delay sampler records the time between two of its firings: let it fire first.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // The block request is written before /hello, so the loop is busy when /hello arrives.
  REQUIRE_FALSE(blocker.write("GET /demo/block?ms=800 HTTP/1.1\r\nHost: t\r\n\r\n"));
  clock_type::time_point block_done;
  auto blocked = std::async(std::launch::async, [&] {
    auto res = blocker.read();
    block_done = clock_type::now();
    return res;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const auto start = clock_type::now();
  CHECK(other.get("/hello").result_int() == 200);
  const auto hello_done = clock_type::now();
  const auto block_res = blocked.get();
  REQUIRE(block_res.result_int() == 200);
  CHECK(parse_json(block_res).at("blocked_ms").to_number<int>() == 800);
  // /hello waited for the busy loop (about 650 ms), unless this thread overslept past the
  // block's end (a loaded machine), which proves nothing either way.
  const double hello_ms = std::chrono::duration<double, std::milli>(hello_done - start).count();
  INFO("hello took " << hello_ms << " ms");
  CHECK((hello_ms > 300 || start >= block_done));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the sampler's next firing

  const auto stats = parse_json(observer.get("/debug/loop"));
  const auto& delay = stats.at("loops").as_array()[0].at("event_loop_delay").as_object();
  INFO(json::serialize(delay));
  CHECK(delay.at("max").to_number<double>() >= 600e6);  // ns: the sampler was 800 ms late

  for (const char* bad : {"/demo/block", "/demo/block?ms=abc", "/demo/block?ms=-5",
                          "/demo/block?ms=10001", "/demo/block?ms=1e3"}) {
    INFO(bad);
    const auto res = observer.get(bad);
    CHECK(res.result_int() == 400);
    CHECK(parse_json(res).at("error").as_string() == "bad_request");
  }
}

TEST_CASE("/demo/starve holds I/O back until its nextTicks are done", "[integration][loop]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  const auto port = p.wait_listening();
  http_client starver(port), other(port);
  CHECK(other.get("/hello").result_int() == 200);

  clock_type::time_point starve_done, hello_done;
  auto starving = std::async(std::launch::async, [&] {
    auto res = starver.get("/demo/starve?ticks=1000000");
    starve_done = clock_type::now();
    return res;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const auto start = clock_type::now();
  CHECK(other.get("/hello").result_int() == 200);
  hello_done = clock_type::now();
  const auto res = starving.get();
  REQUIRE(res.result_int() == 200);
  const auto body = parse_json(res);
  CHECK(body.at("ticks").to_number<std::int64_t>() == 1000000);
  const double elapsed = body.at("elapsed_ms").to_number<double>();
  INFO("starve took " << elapsed << " ms");
  // /hello arrived while the ticks ran (if they ran long enough, and unless this thread
  // overslept past their end): it waited for most of them.
  const double hello_ms = std::chrono::duration<double, std::milli>(hello_done - start).count();
  INFO("hello took " << hello_ms << " ms");
  CHECK((elapsed < 100 || start >= starve_done || hello_ms >= 0.5 * (elapsed - 30)));
  for (const char* bad : {"/demo/starve", "/demo/starve?ticks=-1", "/demo/starve?ticks=50000001"}) {
    INFO(bad);
    CHECK(other.get(bad).result_int() == 400);
  }
}
