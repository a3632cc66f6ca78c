// GET /metrics against the real binary: promtool's checks on a real scrape, a real Prometheus
// server scraping nodus and answering queries, and the http_*/gc/lag values after real traffic.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/http_client.hpp"
#include "tests/integration/nodus_process.hpp"
#include "tests/integration/test_support.hpp"

using namespace nodus::testing;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// The samples of a text exposition: "name{labels}" → value.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() == '#') continue;
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

// Sum over the series of `name` whose labels include every one of `labels` ("k=\"v\"").
double sum_of(const std::map<std::string, double>& samples, const std::string& name,
              std::initializer_list<std::string> labels = {}) {
  double sum = 0;
  for (const auto& [series, value] : samples) {
    if (series != name && !series.starts_with(name + "{")) continue;
    bool all = true;
    for (const auto& l : labels) all = all && series.find(l) != std::string::npos;
    if (all) sum += value;
  }
  return sum;
}

std::string scrape(std::uint16_t port) {
  http_client c(port);
  const auto res = c.get("/metrics");
  REQUIRE(res.result_int() == 200);
  CHECK(res[http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  return res.body();
}

fs::path temp_dir(const std::string& what) {
  const fs::path dir =
      fs::temp_directory_path() /
      ("nodus-" + what + "-" + std::to_string(::getpid()) + "-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(dir);
  return dir;
}

std::string find_program(const std::string& name) {
  const auto r = run_command("command -v " + name);
  if (r.exit_code != 0 || r.out.empty()) return {};
  return r.out.substr(0, r.out.find('\n'));
}

// A port free on 127.0.0.1 right now (Prometheus cannot listen on port 0).
std::uint16_t free_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// Traffic touching every family: files, streams, objects, a GC of each kind, the pool.
void exercise(std::uint16_t port) {
  http_client c(port);
  CHECK(c.get("/hello").result_int() == 200);
  CHECK(c.get("/no/such/file").result_int() == 404);
  CHECK(c.get("/files/hello.txt").result_int() == 200);
  CHECK(c.get("/stream?bytes=1000&chunk=100").result_int() == 200);
  CHECK(c.request(http::verb::post, "/objects", R"({"k":"v","list":[1,2,3]})").result_int() == 201);
  CHECK(c.request(http::verb::post, "/debug/gc?kind=minor").result_int() == 200);
  CHECK(c.request(http::verb::post, "/debug/gc?kind=major").result_int() == 200);
  CHECK(c.request(http::verb::post, "/hash", std::string(100000, 'x')).result_int() == 200);
}

}  // namespace

TEST_CASE("promtool check metrics: no parse error, no lint problem but prom-client's own",
          "[integration][metrics]") {
  const std::string promtool = find_program("promtool");
  // Installed by `scripts/install-deps.sh test` (Debian package prometheus).
  REQUIRE_FALSE(promtool.empty());
  running_nodus n({"--loops", "2"});
  exercise(n.port);
  const std::string text = scrape(n.port);
  REQUIRE(text.find("nodejs_heap_size_used_bytes{loop=\"1\"}") != std::string::npos);
  REQUIRE(text.find("nodejs_gc_duration_seconds_bucket{") != std::string::npos);

  const fs::path dir = temp_dir("promtool");
  const fs::path file = dir / "scrape.txt";
  std::ofstream(file) << text;
  const auto r = run_command(promtool + " check metrics < " + file.string() + " 2>&1");
  fs::remove_all(dir);
  INFO("promtool said:\n" << r.out);
  // prom-client's names that promtool flags; kept for dashboard compatibility.
  const std::set<std::string> accepted{
      R"(nodejs_active_handles_total non-counter metrics should not have "_total" suffix)",
      R"(nodejs_active_requests_total non-counter metrics should not have "_total" suffix)"};
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    CHECK(accepted.count(line) == 1);
  }
  CHECK((r.exit_code == 0 || r.exit_code == 3));  // 3: lint problems only (the accepted ones)
}

TEST_CASE("a real Prometheus server scrapes nodus and answers nodejs_heap_size_used_bytes",
          "[integration][metrics]") {
  const std::string prometheus = find_program("prometheus");
  if (prometheus.empty()) {
    WARN("SKIPPED: no prometheus binary (Debian package prometheus; scripts/install-deps.sh test)");
    return;
  }
  running_nodus n;
  {
    http_client c(n.port);
    for (int i = 0; i < 20; ++i) {
      REQUIRE(c.request(http::verb::post, "/objects", R"({"doc":)" + std::to_string(i) + "}")
                  .result_int() == 201);
    }
  }
  const auto used_heap = [&] {
    http_client c(n.port);
    const auto v = json::parse(c.get("/debug/heap").body());
    return v.at("loops").as_array().at(0).at("used_heap_size").to_number<double>();
  };
  const double used_before = used_heap();
  REQUIRE(used_before > 0);

  const fs::path dir = temp_dir("prometheus");
  const std::uint16_t prom_port = free_port();
  std::ofstream(dir / "prometheus.yml") << "global:\n"
                                           "  scrape_interval: 1s\n"
                                           "  scrape_timeout: 1s\n"
                                           "scrape_configs:\n"
                                           "  - job_name: nodus\n"
                                           "    static_configs:\n"
                                           "      - targets: ['127.0.0.1:"
                                        << n.port << "']\n";
  nodus_process prom(
      {"--config.file=" + (dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"},
      prometheus);

  // Prometheus's HTTP API: the first sample of `query` from job nodus, if any yet.
  const auto query = [&](const std::string& q) -> std::optional<json::object> {
    try {
      http_client c(prom_port);
      const auto res = c.get("/api/v1/query?query=" + q);
      if (res.result_int() != 200) return std::nullopt;
      const auto v = json::parse(res.body());
      for (const auto& s : v.at("data").at("result").as_array()) {
        if (s.at("metric").at("job") == "nodus") return s.as_object();
      }
    } catch (const std::exception&) {
      // not listening yet
    }
    return std::nullopt;
  };
  std::optional<json::object> sample;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!sample && std::chrono::steady_clock::now() < deadline) {
    sample = query("nodejs_heap_size_used_bytes");
    if (!sample) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  INFO("prometheus stderr:\n" << prom.stderr_text());
  REQUIRE(sample.has_value());
  CHECK(sample->at("metric").at("loop") == "0");
  const double value = std::stod(std::string(sample->at("value").as_array().at(1).as_string()));
  // Nothing allocates on the heap between the scrapes of an idle server: the very figure.
  CHECK(value > 0);
  CHECK(value == used_before);
  CHECK(used_heap() == used_before);
  const auto up = query("up");
  REQUIRE(up.has_value());
  CHECK(up->at("value").as_array().at(1).as_string() == "1");

  prom.signal(SIGTERM);
  CHECK(prom.wait_exit(std::chrono::seconds(15)).has_value());
  fs::remove_all(dir);
}

TEST_CASE("http_requests_total and http_request_duration_seconds count real requests by route",
          "[integration][metrics]") {
  running_nodus n({"--loops", "2"});
  {
    http_client a(n.port), b(n.port);
    for (int i = 0; i < 3; ++i) CHECK(a.get("/hello").result_int() == 200);
    for (int i = 0; i < 2; ++i) CHECK(b.get("/hello").result_int() == 200);
    CHECK(a.request(http::verb::head, "/hello").result_int() == 200);
    CHECK(b.request(http::verb::post, "/hello", "x").result_int() == 405);
    CHECK(a.get("/files/no-such-file").result_int() == 404);
    CHECK(a.get("/no-such-page?q=1").result_int() == 404);
  }
  {
    http_client bad(n.port);  // a malformed header: 400 before any route is known
    REQUIRE_FALSE(bad.write("GET / HTTP/1.1\r\nno colon here\r\n\r\n"));
    CHECK(bad.read().result_int() == 400);
  }
  // A response counts once the server saw its last byte written, which may be a moment after
  // the client read it: scrape until the 10 are in (bounded).
  const auto others = [](const std::map<std::string, double>& samples) {
    return sum_of(samples, "http_requests_total") -
           sum_of(samples, "http_requests_total", {"route=\"/metrics\""});
  };
  std::map<std::string, double> first;
  int scrapes = 0;
  for (int i = 0; i < 40; ++i) {
    first = parse_exposition(scrape(n.port));
    ++scrapes;
    if (others(first) >= 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto count = [&](const std::string& method, const std::string& route, int status) {
    return sum_of(first, "http_requests_total",
                  {"method=\"" + method + "\"", "route=\"" + route + "\"",
                   "status=\"" + std::to_string(status) + "\""});
  };
  CHECK(count("GET", "/hello", 200) == 5);
  CHECK(count("HEAD", "/hello", 200) == 1);
  CHECK(count("POST", "/hello", 405) == 1);
  CHECK(count("GET", "/files/", 404) == 1);  // the route's prefix, never the raw path
  CHECK(count("GET", "/", 404) == 1);
  CHECK(count("OTHER", "(unmatched)", 400) == 1);
  CHECK(others(first) == 10);
  CHECK(first.count("http_requests_total{method=\"GET\",route=\"/no-such-page\",status=\"404\"}") ==
        0);

  const std::string hello = "route=\"/hello\"";
  CHECK(sum_of(first, "http_request_duration_seconds_count", {hello}) == 7);
  CHECK(sum_of(first, "http_request_duration_seconds_bucket", {hello, "le=\"+Inf\""}) == 7);
  CHECK(sum_of(first, "http_request_duration_seconds_bucket", {hello, "le=\"10\""}) == 7);
  CHECK(sum_of(first, "http_request_duration_seconds_sum", {hello}) > 0);
  CHECK(sum_of(first, "http_request_duration_seconds_sum", {hello}) < 7 * 10.0);

  // Earlier scrapes count once written; the one being answered never counts itself.
  double metrics_responses = 0;
  for (int i = 0; i < 40 && metrics_responses == 0; ++i) {
    const auto later = parse_exposition(scrape(n.port));
    ++scrapes;
    metrics_responses =
        sum_of(later, "http_requests_total", {"route=\"/metrics\"", "status=\"200\""});
    CHECK(sum_of(later, "http_requests_total", {"route=\"/hello\""}) == 7);
    if (metrics_responses == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(metrics_responses >= 1);
  CHECK(metrics_responses <= scrapes - 1);
}

TEST_CASE("/metrics: GC histogram after forced GCs, lag histogram reset at every scrape",
          "[integration][metrics]") {
  running_nodus n;
  http_client c(n.port);
  CHECK(c.request(http::verb::post, "/objects", R"({"a":1})").result_int() == 201);
  for (int i = 0; i < 3; ++i)
    CHECK(c.request(http::verb::post, "/debug/gc?kind=minor").result_int() == 200);
  CHECK(c.request(http::verb::post, "/debug/gc?kind=major").result_int() == 200);
  // The delay sampler records the time between two of its firings: let it fire once before
  // the block (a fresh loop may not have yet), and once after it, late.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto before = parse_exposition(c.get("/metrics").body());
  CHECK(sum_of(before, "nodejs_eventloop_lag_max_seconds", {"loop=\"0\""}) < 0.29);
  CHECK(c.get("/demo/block?ms=300").result_int() == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  const auto first = parse_exposition(c.get("/metrics").body());
  const std::string minor = "kind=\"minor\"", major = "kind=\"major\"", loop0 = "loop=\"0\"";
  CHECK(sum_of(first, "nodejs_gc_duration_seconds_count", {minor, loop0}) == 3);
  CHECK(sum_of(first, "nodejs_gc_duration_seconds_count", {major, loop0}) >= 1);
  CHECK(sum_of(first, "nodejs_gc_duration_seconds_bucket", {minor, loop0, "le=\"+Inf\""}) == 3);
  CHECK(sum_of(first, "nodejs_gc_duration_seconds_bucket", {minor, loop0, "le=\"5\""}) == 3);
  CHECK(sum_of(first, "nodejs_gc_duration_seconds_sum", {minor, loop0}) > 0);
  CHECK(first.count("nodejs_gc_duration_seconds_bucket{kind=\"major\",loop=\"0\",le=\"0.001\"}") ==
        1);
  CHECK(sum_of(first, "nodejs_heap_size_used_bytes", {loop0}) > 0);
  CHECK(sum_of(first, "nodejs_active_handles", {"type=\"TCPServerWrap\""}) == 1);
  CHECK(sum_of(first, "nodejs_active_handles_total", {loop0}) >= 2);  // listener + this socket
  CHECK(first.count("nodejs_eventloop_lag_seconds{loop=\"0\"}") == 1);
  CHECK(sum_of(first, "nodus_version_info", {"version=\"v", "major=\"", "patch=\""}) == 1);
  // The 300 ms block delayed the 10 ms sampler: the histogram since the last scrape shows it.
  CHECK(sum_of(first, "nodejs_eventloop_lag_max_seconds", {loop0}) >= 0.29);

  // prom-client resets the delay histogram at every scrape: the block is gone from the next.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto second = parse_exposition(c.get("/metrics").body());
  CHECK(sum_of(second, "nodejs_eventloop_lag_max_seconds", {loop0}) < 0.29);
  CHECK(sum_of(second, "nodejs_eventloop_lag_min_seconds", {loop0}) > 0);
}
