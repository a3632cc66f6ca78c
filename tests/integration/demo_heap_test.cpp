// The heap scenarios over real HTTP against the real binary: the three leaks and their fix
// (old space back to its baseline after a major GC), the leak detector, heap exhaustion,
// the stack-overflow guard and the WeakRef cache's hit / miss / cleared-by-GC sequence.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/http_client.hpp"
#include "tests/integration/nodus_process.hpp"

using namespace nodus::testing;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kib = 1024;
constexpr std::int64_t mib = 1024 * kib;

json::value body_of(const http_response& res) { return json::parse(res.body()); }

json::value ok_json(http_client& c, http::verb method, const std::string& target) {
  const auto res = c.request(method, target);
  INFO(target << " -> " << res.result_int() << " " << res.body());
  REQUIRE(res.result_int() == 200);
  return body_of(res);
}

std::int64_t num(const json::value& v) { return v.to_number<std::int64_t>(); }

// Runs a forced major GC; returns the heap's used bytes after it (new space is empty then).
std::int64_t major_gc(http_client& c) {
  const auto r = ok_json(c, http::verb::post, "/debug/gc?kind=major");
  const auto& event = r.at("loops").as_array().at(0).at("event");
  REQUIRE(event.at("kind").as_string() == "major");
  return num(event.at("used_after_bytes"));
}

// old_space + large_object_space used, as /debug/heap/spaces reports them.
std::int64_t old_generation_used(http_client& c) {
  const auto r = ok_json(c, http::verb::get, "/debug/heap/spaces");
  std::int64_t used = 0;
  for (const auto& s : r.at("loops").as_array().at(0).at("spaces").as_array()) {
    const auto name = s.at("space_name").as_string();
    if (name == "old_space" || name == "large_object_space") used += num(s.at("space_used_size"));
  }
  return used;
}

json::value leak_report(http_client& c) {
  return ok_json(c, http::verb::get, "/demo/leak").at("loops").as_array().at(0);
}

// Active timers of the loop, referenced or not (the demo's intervals are unref'd).
std::int64_t timeouts_active(http_client& c) {
  const auto r = ok_json(c, http::verb::get, "/debug/loop");
  return num(r.at("loops").as_array().at(0).at("queues").at("timers"));
}

json::value cache_get(http_client& c, const std::string& key) {
  std::string target = "/demo/cache/";
  target.append(key);
  return ok_json(c, http::verb::get, target);
}

// "k<i>" (appended: GCC 12 warns falsely on `"k" + std::to_string(i)` at -O3).
std::string numbered_key(int i) {
  std::string key = "k";
  key += std::to_string(i);
  return key;
}

json::value cache_stats(http_client& c) {
  return ok_json(c, http::verb::get, "/demo/cache").at("loops").as_array().at(0);
}

}  // namespace

TEST_CASE("each leak grows old space, and DELETE plus a major GC return it to its baseline",
          "[integration][demo][leak]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  http_client c(p.wait_listening());
  // The emitter exists after the first leak: create it, fix, and take the baseline.
  ok_json(c, http::verb::post, "/demo/leak/closure?kb=1&count=1");
  ok_json(c, http::verb::delete_, "/demo/leak");
  major_gc(c);
  const std::int64_t baseline = major_gc(c);
  REQUIRE(old_generation_used(c) == baseline);

  // Small items (young, promoted by the GC) and large ones (large-object space).
  for (const std::string kb : {"64", "512"}) {
    for (const std::string pattern : {"closure", "listener", "interval"}) {
      DYNAMIC_SECTION(pattern << " kb=" << kb) {
        const std::int64_t count = 8;
        const std::int64_t bytes = std::stoll(kb) * kib * count;
        const auto r = ok_json(c, http::verb::post,
                               "/demo/leak/" + pattern + "?kb=" + kb + "&count=8&ms=20");
        CHECK(r.at("pattern").as_string() == pattern);
        CHECK(num(r.at("added").at("count")) == count);
        CHECK(num(r.at("added").at("bytes")) == bytes);

        const std::int64_t leaked = major_gc(c);
        CHECK(leaked >= baseline + bytes);
        CHECK(old_generation_used(c) == leaked);
        const auto report = leak_report(c);
        const std::string group = pattern == "closure" ? "closures" : pattern == "listener" ? "listeners" : "intervals";
        CHECK(num(report.at("retained").at(group).at("count")) == count);
        CHECK(num(report.at("retained").at(group).at("bytes")) == bytes);
        CHECK(num(report.at("retained").at("bytes")) == bytes);

        // Still there after more GCs: the roots are real.
        major_gc(c);
        CHECK(major_gc(c) >= baseline + bytes);

        const auto fixed = ok_json(c, http::verb::delete_, "/demo/leak").at("loops").as_array().at(0);
        CHECK(num(fixed.at("removed").at(group)) == count);
        CHECK(num(fixed.at("removed").at("bytes")) == bytes);
        CHECK(major_gc(c) == baseline);
        CHECK(old_generation_used(c) == baseline);
        CHECK(num(leak_report(c).at("retained").at("bytes")) == 0);
      }
    }
  }
}

TEST_CASE("interval leaks are live loop timers that run their closure until cleared",
          "[integration][demo][leak]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  http_client c(p.wait_listening());
  const std::int64_t timers_before = timeouts_active(c);
  ok_json(c, http::verb::post, "/demo/leak/interval?kb=16&count=3&ms=10");
  CHECK(timeouts_active(c) == timers_before + 3);

  // Each tick runs the heap closure, which counts its calls in its own context.
  std::int64_t ticks = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    ticks = num(leak_report(c).at("retained").at("intervals").at("ticks"));
    if (ticks >= 9) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(ticks >= 9);
  major_gc(c);  // the closures move; the timers' persistent handles follow them
  const std::int64_t after_gc = num(leak_report(c).at("retained").at("intervals").at("ticks"));
  CHECK(after_gc >= ticks);

  ok_json(c, http::verb::delete_, "/demo/leak");
  CHECK(timeouts_active(c) == timers_before);
  CHECK(num(leak_report(c).at("retained").at("intervals").at("count")) == 0);

  // Unref'd: they never hold up a graceful shutdown.
  ok_json(c, http::verb::post, "/demo/leak/interval?kb=1&count=2&ms=5");
  p.signal(SIGTERM);
  CHECK(p.wait_exit(10s) == 0);
}

TEST_CASE("the leak detector flags steady growth after major GCs, and clears after the fix",
          "[integration][demo][leak]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  http_client c(p.wait_listening());
  major_gc(c);
  for (int round = 0; round < 4; ++round) {
    ok_json(c, http::verb::post, "/demo/leak/listener?kb=256&count=2");
    major_gc(c);
  }
  auto detector = leak_report(c).at("leak_detector");
  CHECK_FALSE(detector.at("suspected").as_bool());
  CHECK(num(detector.at("growing_gcs")) == 4);
  CHECK(c.get("/metrics").body().find("nodus_heap_leak_suspected{loop=\"0\"} 0") != std::string::npos);

  ok_json(c, http::verb::post, "/demo/leak/listener?kb=256&count=2");
  major_gc(c);
  detector = leak_report(c).at("leak_detector");
  CHECK(detector.at("suspected").as_bool());
  CHECK(num(detector.at("suspicions")) == 1);
  CHECK(num(detector.at("growth_bytes")) >= 5 * 2 * 256 * kib);
  CHECK(c.get("/metrics").body().find("nodus_heap_leak_suspected{loop=\"0\"} 1") != std::string::npos);
  bool logged = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; !logged && std::chrono::steady_clock::now() < deadline;) {
    logged = (p.stdout_text() + p.stderr_text()).find("heap leak suspected") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(20ms);
  }
  CHECK(logged);

  ok_json(c, http::verb::delete_, "/demo/leak");
  major_gc(c);
  detector = leak_report(c).at("leak_detector");
  CHECK_FALSE(detector.at("suspected").as_bool());
  CHECK(num(detector.at("growing_gcs")) == 0);
}

TEST_CASE("heap exhaustion answers 507 and keeps what was retained", "[integration][demo][leak]") {
  nodus_process p({"--port", "0", "--loops", "1", "--max-old-space-size", "16"});
  http_client c(p.wait_listening());
  ok_json(c, http::verb::post, "/demo/leak/closure?kb=1024&count=8");
  for (const char* target : {"/demo/leak/listener?kb=1024&count=20", "/demo/leak/interval?kb=100&count=400",
                             "/demo/leak/closure?kb=8192&count=2"}) {
    INFO(target);
    const auto res = c.request(http::verb::post, target);
    CHECK(res.result_int() == 507);
    CHECK(body_of(res).at("error").as_string() == "heap_limit");
  }
  const auto report = leak_report(c);
  CHECK(num(report.at("retained").at("closures").at("count")) == 8);
  CHECK(num(report.at("retained").at("closures").at("bytes")) == 8 * mib);
  CHECK(num(report.at("retained").at("listeners").at("count")) == 0);
  CHECK(num(report.at("retained").at("intervals").at("count")) == 0);
  CHECK(c.get("/health").result_int() == 200);
  // The failed requests' garbage goes at the next major GC; the retained 8 MiB stays.
  const std::int64_t used = major_gc(c);
  CHECK(used >= 8 * mib);
  CHECK(used < 9 * mib);
  ok_json(c, http::verb::post, "/demo/leak/listener?kb=1024&count=4");  // room again
  ok_json(c, http::verb::delete_, "/demo/leak");
  CHECK(major_gc(c) < 64 * kib);
}

TEST_CASE("leak requests are validated", "[integration][demo][leak]") {
  nodus_process p({"--port", "0", "--loops", "2"});
  http_client c(p.wait_listening());
  for (const char* target : {"/demo/leak/closure?kb=0", "/demo/leak/closure?kb=65537", "/demo/leak/closure?kb=x",
                             "/demo/leak/listener?count=0", "/demo/leak/listener?count=10001",
                             "/demo/leak/listener?kb=65536&count=17", "/demo/leak/interval?ms=0",
                             "/demo/leak/interval?ms=-5", "/demo/leak/closure?kb=1%"}) {
    INFO(target);
    const auto res = c.request(http::verb::post, target);
    CHECK(res.result_int() == 400);
    CHECK(body_of(res).at("error").as_string() == "bad_request");
  }
  CHECK(c.request(http::verb::get, "/demo/leak?loop=2").result_int() == 400);
  CHECK(c.request(http::verb::delete_, "/demo/leak?loop=x").result_int() == 400);
  CHECK(c.request(http::verb::get, "/demo/leak/closure").result_int() == 405);
  // Every loop reports (and is fixed) by default; ?loop=k picks one.
  CHECK(ok_json(c, http::verb::get, "/demo/leak").at("loops").as_array().size() == 2);
  CHECK(ok_json(c, http::verb::delete_, "/demo/leak").at("loops").as_array().size() == 2);
  const auto one = ok_json(c, http::verb::get, "/demo/leak?loop=1").at("loops").as_array();
  REQUIRE(one.size() == 1);
  CHECK(num(one.at(0).at("loop")) == 1);
}

TEST_CASE("recursion runs for real under a stack guard, and overflow is a RangeError", "[integration][demo][recursion]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  http_client c(p.wait_listening());
  auto r = ok_json(c, http::verb::get, "/demo/recursion?depth=1000");
  CHECK(num(r.at("depth")) == 1000);
  CHECK(num(r.at("stack_used_bytes")) >= 1000 * 256);  // 256 bytes of locals per frame, at least
  const std::int64_t stack_size = num(r.at("stack_size_bytes"));
  CHECK(stack_size > 0);

  for (int i = 0; i < 3; ++i) {  // again and again: the stack unwinds, the loop lives on
    const auto res = c.get("/demo/recursion?depth=1000000");
    CHECK(res.result_int() == 422);
    CHECK(body_of(res) == json::parse(R"({"error":"RangeError","detail":"Maximum call stack size exceeded"})"));
    CHECK(c.get("/health").result_int() == 200);
  }
  // The deepest recursion that fits is bounded by the thread's real stack.
  const std::int64_t fits = stack_size / 2 / 512;
  r = ok_json(c, http::verb::get, "/demo/recursion?depth=" + std::to_string(fits));
  CHECK(num(r.at("depth")) == fits);
  CHECK(num(r.at("stack_used_bytes")) < stack_size);

  for (const char* target : {"/demo/recursion", "/demo/recursion?depth=0", "/demo/recursion?depth=-1",
                             "/demo/recursion?depth=abc", "/demo/recursion?depth=1000001",
                             "/demo/recursion?depth=1.5"}) {
    INFO(target);
    const auto res = c.get(target);
    CHECK(res.result_int() == 400);
    CHECK(body_of(res).at("error").as_string() == "bad_request");
  }
}

TEST_CASE("the WeakRef cache: miss, LRU hit, WeakRef hit, cleared by a major GC, recomputed",
          "[integration][demo][cache]") {
  nodus_process p({"--port", "0", "--loops", "1"});
  http_client c(p.wait_listening());
  auto r = cache_get(c, "alpha");
  CHECK_FALSE(r.at("hit").as_bool());
  CHECK(r.at("source").as_string() == "computed");
  CHECK(num(r.at("value_bytes")) == 64 * kib);
  const std::string prefix(r.at("value_prefix").as_string());
  CHECK(prefix.size() == 32);

  r = cache_get(c, "alpha");
  CHECK(r.at("hit").as_bool());
  CHECK(r.at("source").as_string() == "lru");
  CHECK(r.at("value_prefix").as_string() == prefix);
  // Another key, another value.
  CHECK(cache_get(c, "beta").at("value_prefix").as_string() != prefix);

  // Eight newer keys push alpha out of the LRU: only its WeakRef refers to it now, and no
  // major GC ran, so it is still there.
  for (int i = 0; i < 8; ++i) cache_get(c, numbered_key(i));
  r = cache_get(c, "alpha");
  CHECK(r.at("source").as_string() == "weakref");
  CHECK(r.at("hit").as_bool());
  CHECK(r.at("value_prefix").as_string() == prefix);

  // Out of the LRU again, then a major GC clears its WeakRef (and beta's, and k0's).
  for (int i = 8; i < 16; ++i) cache_get(c, numbered_key(i));
  const auto gc = ok_json(c, http::verb::post, "/debug/gc?kind=major").at("loops").as_array().at(0).at("event");
  CHECK(num(gc.at("weak_refs_cleared")) >= 3);
  json::value stats;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    stats = cache_stats(c);  // the registry's cleanup runs as a later loop task
    if (num(stats.at("cleared_by_gc")) + num(stats.at("cleared_seen_on_lookup")) >= 3) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(num(stats.at("cleared_by_gc")) + num(stats.at("cleared_seen_on_lookup")) >= 3);
  CHECK(num(stats.at("lru_entries")) == 8);

  r = cache_get(c, "alpha");
  CHECK_FALSE(r.at("hit").as_bool());
  CHECK(r.at("source").as_string() == "computed");
  CHECK(r.at("value_prefix").as_string() == prefix);  // the same value, derived again
  stats = r.at("stats");
  CHECK(num(stats.at("hits_lru")) == 1);
  CHECK(num(stats.at("hits_weakref")) == 1);
  CHECK(num(stats.at("misses")) == 1 + 1 + 16 + 1);
  CHECK(num(stats.at("lookups")) == 21);
  CHECK(num(stats.at("hits")) == 2);

  for (const std::string& bad : {std::string(), std::string(65, 'x'), std::string("a%2Fb"), std::string("a+b"),
                                 std::string("%00"), std::string("caf%C3%A9")}) {
    INFO(bad);
    std::string target = "/demo/cache/";
    target.append(bad);
    const auto res = c.get(target);
    CHECK(res.result_int() == 400);
    CHECK(body_of(res).at("error").as_string() == "bad_request");
  }
}
