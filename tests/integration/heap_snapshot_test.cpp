// GET /debug/heap/snapshot against the real binary, checked by independent parsers from npm
// (tests/js: heap-snapshot-toolkit = Chrome DevTools' loader, @memlab/heap-analysis).
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <thread>
#include <unistd.h>

#include "tests/integration/test_support.hpp"

using namespace nodus::testing;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::string js_dir = std::string(NODUS_SOURCE_DIR) + "/tests/js";

// A scratch directory removed at the end of the test.
struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("nodus-snapshot-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct fetched {
  int exit_code = 0;    // curl's
  std::string headers;  // status line included
};

// Downloads a snapshot with curl. No assertions: the slow-reader test runs it on a second
// thread, and Catch's assertion macros may only be used on the test's own thread.
fetched fetch(std::uint16_t port, const std::string& query, const fs::path& file, const std::string& extra = {}) {
  const fs::path headers = file.string() + ".headers";
  const auto r = curl("-s --max-time 120 " + extra + " -D " + headers.string() + " -o " + file.string() + " '" +
                      url(port, "/debug/heap/snapshot" + query) + "'");
  std::ifstream in(headers);
  return {r.exit_code, std::string(std::istreambuf_iterator<char>(in), {})};
}

// Downloads a snapshot with curl; returns the response headers (status line included).
std::string download(std::uint16_t port, const std::string& query, const fs::path& file,
                     const std::string& extra = {}) {
  fetched r = fetch(port, query, file, extra);
  REQUIRE(r.exit_code == 0);
  return std::move(r.headers);
}

// {"items":[{"n":0,"s":"item"},...]}: `count` small objects for the heap to hold.
std::string items_document(int count) {
  std::string doc = R"({"items":[)";
  for (int i = 0; i < count; ++i) {
    if (i > 0) doc += ',';
    doc += R"({"n":)";
    doc += std::to_string(i);
    doc += R"(,"s":"item"})";
  }
  doc += "]}";
  return doc;
}

// Runs tests/js/check_heap_snapshot.mjs on `file`; its one JSON line.
json::object check_with_parsers(const fs::path& file) {
  if (!fs::exists(js_dir + "/node_modules/heap-snapshot-toolkit")) {
    FAIL("tests/js/node_modules is missing: run `make test-deps` (npm ci in tests/js)");
  }
  const auto r = run_command("cd " + js_dir + " && timeout 300 node check_heap_snapshot.mjs " + file.string() +
                             " 2>/dev/null");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out).as_object();
}

json::object heap_of_loop(http_client& c, int loop) {
  const auto res = c.get("/debug/heap?loop=" + std::to_string(loop));
  REQUIRE(res.result_int() == 200);
  return json::parse(res.body()).as_object().at("loops").as_array().at(0).as_object();
}

std::string id_of(const std::string& body) {
  const json::value id = json::parse(body).at("id");
  return id.is_string() ? std::string(id.as_string()) : json::serialize(id);
}

std::uint64_t object_count(const json::object& heap) {
  std::uint64_t n = 0;
  for (const auto& kv : heap.at("objects_by_kind").as_object()) n += kv.value().at("count").to_number<std::uint64_t>();
  return n;
}

}  // namespace

TEST_CASE("snapshot: DevTools' loader and memlab read it, counts match /debug/heap, the leak's retainer path", "[integration][snapshot]") {
  running_nodus n;
  http_client c(n.port);
  temp_dir dir;
  // A known graph: a stored document, and the closure leak (emitter → callbacks → closure →
  // context → 256 KiB ByteArray, a large object).
  const auto stored = c.request(http::verb::post, "/objects", R"({"holder":{"name":"kept","list":[1,"two",{"three":3}]}})");
  REQUIRE(stored.result_int() / 100 == 2);
  const auto leak = c.request(http::verb::post, "/demo/leak/closure?kb=256&count=3");
  REQUIRE(leak.result_int() / 100 == 2);

  const fs::path file = dir.path / "a.heapsnapshot";
  const std::string headers = download(n.port, "", file);
  CHECK(headers.find("HTTP/1.1 200") == 0);
  CHECK(headers.find("Content-Type: application/json") != std::string::npos);
  CHECK(std::regex_search(headers, std::regex(R"(Content-Disposition: attachment; filename=nodus-\d+-0-\d{8}T\d{6}Z\.heapsnapshot)")));
  CHECK(headers.find("Transfer-Encoding: chunked") != std::string::npos);
  const json::object heap = heap_of_loop(c, 0);  // nothing allocated since the snapshot's GC

  const json::object found = check_with_parsers(file);
  const auto& toolkit = found.at("toolkit").as_object();
  CHECK(toolkit.at("node_count").to_number<std::uint64_t>() == object_count(heap) + 6);  // + synthetic roots
  CHECK(toolkit.at("total_size").to_number<std::uint64_t>() == heap.at("used_heap_size").to_number<std::uint64_t>());
  CHECK(found.at("memlab").at("node_count").to_number<std::uint64_t>() == object_count(heap) + 6);

  // memlab: (GC roots) → (Global handles) → the emitter → callbacks → closure → context → the bytes.
  const auto& l = found.at("memlab").at("leak").as_object();
  CHECK(l.at("self_size").to_number<std::uint64_t>() >= 256 * 1024);
  const auto& path = l.at("path").as_array();
  REQUIRE(path.size() >= 5);
  auto step = [&](std::size_t i) -> const json::object& { return path.at(i).as_object(); };
  CHECK(step(0).at("from") == "(GC roots)");
  CHECK(step(0).at("to") == "(Global handles)");
  CHECK(step(1).at("to_type") == "object");  // the holder: the per-loop emitter
  CHECK(step(2).at("edge") == "callbacks");
  CHECK(step(2).at("to_type") == "array");
  CHECK(step(3).at("to_type") == "closure");
  CHECK(step(4).at("edge_type") == "context");
  CHECK(step(4).at("to") == "system / Context");
  CHECK(path.back().at("to") == "ByteArray");
  // Retained sizes: the holder keeps all three leaks, a closure keeps its own bytes.
  CHECK(step(1).at("from_retained_size").to_number<std::uint64_t>() >= 3 * 256 * 1024);  // (Global handles)
  CHECK(step(2).at("from_retained_size").to_number<std::uint64_t>() >= 3 * 256 * 1024);  // the emitter
  const auto closure_retained = step(4).at("from_retained_size").to_number<std::uint64_t>();
  CHECK(closure_retained >= 256 * 1024);
  CHECK(closure_retained < 2 * 256 * 1024);

  // Ids are stable: the same leaked ByteArray has the same id in a second snapshot.
  const fs::path again = dir.path / "b.heapsnapshot";
  download(n.port, "?loop=0", again);
  CHECK(check_with_parsers(again).at("memlab").at("leak").at("id") == l.at("id"));
}

TEST_CASE("snapshot: ?loop=k picks a loop, whichever loop serves the request", "[integration][snapshot]") {
  running_nodus n({"--loops", "2"});
  temp_dir dir;
  http_client c(n.port);
  CHECK(json_error(c.get("/debug/heap/snapshot?loop=2").body()) == "bad_request");
  CHECK(c.get("/debug/heap/snapshot?loop=x").result_int() == 400);
  CHECK(c.get("/debug/heap/snapshot?loop=-1").result_int() == 400);
  for (int k = 0; k < 2; ++k) {
    const fs::path file = dir.path / ("loop" + std::to_string(k) + ".heapsnapshot");
    const std::string headers = download(n.port, "?loop=" + std::to_string(k), file);
    CHECK(headers.find("-" + std::to_string(k) + "-") != std::string::npos);  // the file name names the loop
    http_client fresh(n.port);
    const json::object heap = heap_of_loop(fresh, k);
    const json::object found = check_with_parsers(file);
    CHECK(found.at("toolkit").at("node_count").to_number<std::uint64_t>() == object_count(heap) + 6);
  }
  CHECK(http_client(n.port).get("/debug/loop").result_int() == 200);
}

TEST_CASE("snapshot: a slow reader while the loop keeps serving and mutating", "[integration][snapshot]") {
  running_nodus n;
  temp_dir dir;
  http_client c(n.port);
  // Enough objects that the snapshot is several MB, read at 2 MB/s.
  const std::string big = items_document(4000);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    const auto r = c.request(http::verb::post, "/objects", big);
    REQUIRE(r.result_int() / 100 == 2);
    ids.push_back(id_of(r.body()));
  }
  const fs::path file = dir.path / "slow.heapsnapshot";
  auto slow = std::async(std::launch::async, [&] { return fetch(n.port, "", file, "--limit-rate 2M"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Meanwhile: stores, deletes (garbage that must not be collected under the stream), reads.
  // GC is deferred while the snapshot streams, so every document stored meanwhile stays in
  // old space until the end: 100 of them (~60 MB) stay well under the default heap limit
  // however slowly a busy machine lets the download go (400 reached it: 507, as designed).
  int served = 0;
  while (slow.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready && served < 100) {
    const auto r = c.request(http::verb::post, "/objects", big);
    REQUIRE(r.result_int() / 100 == 2);
    const std::string id = id_of(r.body());
    REQUIRE(c.request(http::verb::delete_, "/objects/" + id).result_int() / 100 == 2);
    ++served;
  }
  const fetched slow_result = slow.get();
  REQUIRE(slow_result.exit_code == 0);
  const std::string& headers = slow_result.headers;
  CHECK(headers.find("HTTP/1.1 200") == 0);
  CHECK(served > 0);
  const json::object found = check_with_parsers(file);  // both parsers accept it: counts are exact
  CHECK(found.at("toolkit").at("node_count").to_number<std::uint64_t>() > 10 * 4000);
  // After the stream the deferred GCs ran: the deleted documents are gone.
  http_client fresh(n.port);  // `c` idled past the server's idle timeout while node ran
  CHECK(fresh.request(http::verb::post, "/debug/gc?kind=major").result_int() == 200);
  const json::object heap = heap_of_loop(fresh, 0);
  CHECK(heap.at("used_heap_size").to_number<std::uint64_t>() <
        found.at("toolkit").at("total_size").to_number<std::uint64_t>() * 2);
}

TEST_CASE("snapshot: readers that stop reading hold at most two streams, leaving releases them", "[integration][snapshot]") {
  running_nodus n;
  http_client c(n.port);
  // ~30 MB of snapshot: more than the loopback socket buffers can absorb.
  const std::string big = items_document(4000);
  for (int i = 0; i < 40; ++i) REQUIRE(c.request(http::verb::post, "/objects", big).result_int() / 100 == 2);

  // Two clients ask for a snapshot and never read: their streams stall with GC deferred.
  net::io_context io;
  std::vector<net::ip::tcp::socket> stalled;
  for (int i = 0; i < 2; ++i) {
    auto& s = stalled.emplace_back(io);
    s.connect({net::ip::make_address("127.0.0.1"), n.port});
    const std::string req = "GET /debug/heap/snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    net::write(s, net::buffer(req));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  http_client third(n.port);
  const auto busy = third.get("/debug/heap/snapshot");
  CHECK(busy.result_int() == 503);
  CHECK(json_error(busy.body()) == "busy");
  CHECK(busy[http::field::retry_after] == "5");
  CHECK(third.get("/health").result_int() == 200);  // the loop serves on meanwhile

  // The readers leave: their writers are released, and a snapshot streams again.
  for (auto& s : stalled) s.close();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    http_client again(n.port);
    const auto r = again.request(http::verb::head, "/debug/heap/snapshot");
    served = r.result_int() == 200;
  }
  CHECK(served);
}
