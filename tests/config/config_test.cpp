#include "config/config.hpp"

#include <catch2/catch.hpp>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/process/parallelism.hpp"
#include "tests/support/affinity.hpp"

namespace cfg = nodus::config;

namespace {

// Clears every NODUS_* variable a test may set, so cases do not leak into each other.
struct env_guard {
  std::vector<std::string> names;
  void set(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
    names.push_back(name);
  }
  ~env_guard() {
    for (const auto& n : names) ::unsetenv(n.c_str());
  }
};

struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& text) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("nodus-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".toml");
    std::ofstream(path) << text;
  }
  ~temp_file() { std::filesystem::remove(path); }
};

cfg::parse_result parse(std::vector<std::string> args) {
  args.insert(args.begin(), "nodus");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return cfg::parse(static_cast<int>(argv.size()), argv.data());
}

cfg::config expect_config(const cfg::parse_result& r) {
  if (const auto* e = std::get_if<cfg::exit_request>(&r)) {
    FAIL("expected a config, got exit " << e->code << ": " << e->err << e->out);
  }
  return std::get<cfg::config>(r);
}

cfg::exit_request expect_exit(const cfg::parse_result& r) {
  REQUIRE(std::holds_alternative<cfg::exit_request>(r));
  return std::get<cfg::exit_request>(r);
}

}  // namespace

TEST_CASE("defaults serve the bundled site on 127.0.0.1:8080", "[config]") {
  const auto c = expect_config(parse({}));
  CHECK(c.host == "127.0.0.1");
  CHECK(c.port == 8080);
  CHECK(c.loops >= 1);
  CHECK(c.workers >= 1);
  CHECK(std::filesystem::exists(std::filesystem::path(c.root) / "index.html"));
  CHECK(c.idle_timeout == std::chrono::milliseconds(5000));
  CHECK(c.worker_policy == "idle");
  CHECK_FALSE(c.access_log);
}

TEST_CASE("precedence is defaults < file < env < flags", "[config]") {
  temp_file file("port = 1111\nloops = 3\nworkers = 5\nlog-level = \"warn\"\n");
  env_guard env;

  auto c = expect_config(parse({"--config", file.path.string()}));
  CHECK(c.port == 1111);
  CHECK(c.loops == 3);
  CHECK(c.log_level == "warn");

  env.set("NODUS_PORT", "2222");
  env.set("NODUS_LOOPS", "2");
  c = expect_config(parse({"--config", file.path.string()}));
  CHECK(c.port == 2222);  // env beats file
  CHECK(c.loops == 2);
  CHECK(c.workers == 5);  // file beats default

  c = expect_config(parse({"--config", file.path.string(), "--port", "3333"}));
  CHECK(c.port == 3333);  // flag beats env
  CHECK(c.loops == 2);
}

TEST_CASE("loops and workers default to the CPUs nodus may run on", "[config]") {
  {
    // Under `taskset -c N` (or a one-CPU cpuset) on a machine with more CPUs: one of each,
    // not a loop and a pool thread per CPU of the machine contending for that one.
    const nodus::test::pinned_to_one_cpu pin;
    const auto c = expect_config(parse({}));
    CHECK(c.loops == 1);
    CHECK(c.workers == 1);
  }
  const auto c = expect_config(parse({}));
  CHECK(c.loops == nodus::runtime::process::available_parallelism());
  CHECK(c.workers == c.loops);
  CHECK(expect_config(parse({"--workers", "3"})).workers == 3);
}

TEST_CASE("sizes take units and durations take fractional seconds", "[config]") {
  const auto c = expect_config(
      parse({"--max-body", "2m", "--max-header", "8kb", "--idle-timeout", "0.25",
             "--request-timeout", "3"}));
  CHECK(c.max_body == 2u * 1024 * 1024);
  CHECK(c.max_header == 8u * 1024);
  CHECK(c.idle_timeout == std::chrono::milliseconds(250));
  CHECK(c.request_timeout == std::chrono::milliseconds(3000));
}

TEST_CASE("invalid input exits 2 with one line naming the option", "[config]") {
  SECTION("port out of range") {
    const auto e = expect_exit(parse({"--port", "70000"}));
    CHECK(e.code == 2);
    CHECK(e.err.find("--port") != std::string::npos);
  }
  SECTION("unknown flag") {
    const auto e = expect_exit(parse({"--no-such-flag"}));
    CHECK(e.code == 2);
    CHECK(e.err.find("--no-such-flag") != std::string::npos);
  }
  SECTION("missing root") {
    const auto e = expect_exit(parse({"--root", "/nonexistent/nodus-root"}));
    CHECK(e.code == 2);
    CHECK(e.err.find("--root") != std::string::npos);
  }
  SECTION("bad worker policy") {
    const auto e = expect_exit(parse({"--worker-policy", "realtime"}));
    CHECK(e.code == 2);
    CHECK(e.err.find("--worker-policy") != std::string::npos);
  }
  SECTION("bad log level") {
    const auto e = expect_exit(parse({"--log-level", "loud"}));
    CHECK(e.code == 2);
    CHECK(e.err.find("--log-level") != std::string::npos);
  }
  SECTION("bad environment variable names the variable") {
    env_guard env;
    env.set("NODUS_PORT", "99999");
    const auto e = expect_exit(parse({}));
    CHECK(e.code == 2);
    CHECK(e.err.find("NODUS_PORT") != std::string::npos);
  }
  SECTION("unknown key in the config file") {
    temp_file file("prot = 80\n");
    const auto e = expect_exit(parse({"--config", file.path.string()}));
    CHECK(e.code == 2);
    CHECK(e.err.find("prot") != std::string::npos);
  }
  SECTION("malformed TOML") {
    temp_file file("port = = 80\n[unclosed\n");
    const auto e = expect_exit(parse({"--config", file.path.string()}));
    CHECK(e.code == 2);
    CHECK_FALSE(e.err.empty());
  }
  SECTION("missing config file") {
    const auto e = expect_exit(parse({"--config", "/nonexistent/nodus.toml"}));
    CHECK(e.code == 2);
    CHECK(e.err.find("nodus.toml") != std::string::npos);
  }
}

TEST_CASE("help, version and print-config exit 0 with text on stdout", "[config]") {
  auto e = expect_exit(parse({"--help"}));
  CHECK(e.code == 0);
  CHECK(e.out.find("--max-body") != std::string::npos);
  e = expect_exit(parse({"--version"}));
  CHECK(e.code == 0);
  CHECK(e.out.rfind("nodus ", 0) == 0);
  e = expect_exit(parse({"--print-config", "--port", "0"}));
  CHECK(e.code == 0);
  CHECK(e.out.find("port = 0\n") != std::string::npos);
}

TEST_CASE("print-config output is itself a valid config file", "[config]") {
  const auto first = expect_exit(parse({"--print-config", "--port", "4321", "--loops", "2"}));
  temp_file file(first.out);
  const auto c = expect_config(parse({"--config", file.path.string()}));
  CHECK(c.port == 4321);
  CHECK(c.loops == 2);
}

TEST_CASE("config/nodus.toml documents exactly the defaults", "[config]") {
  const std::string file = std::string(NODUS_SOURCE_DIR) + "/config/nodus.toml";
  const auto from_file = expect_exit(parse({"--config", file, "--print-config"}));
  const auto defaults = expect_exit(parse({"--print-config"}));
  CHECK(from_file.out == defaults.out);
}
