// runtime/loop/scenario: parsing limits and errors, and runs on fresh and live loops.
#include "runtime/loop/scenario.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace nodus::runtime::loop;

namespace {
scenario_errc code_of(std::string_view json) {
  auto r = parse_scenario(json);
  REQUIRE_FALSE(r.has_value());
  return static_cast<scenario_errc>(r.error().code.value());
}

std::string nested(int depth) {
  std::string s = R"({"ops":[)";
  for (int i = 0; i < depth; ++i) s += R"({"op":"log","label":"x","then":[)";
  for (int i = 0; i < depth; ++i) s += "]}";
  return s + "]}";
}
}  // namespace

TEST_CASE("scenario errors are reported, never thrown", "[scenario]") {
  CHECK(code_of("") == scenario_errc::invalid_json);
  CHECK(code_of("{\"ops\": [") == scenario_errc::invalid_json);
  CHECK(code_of("[]") == scenario_errc::bad_shape);
  CHECK(code_of(R"({"ops": {}})") == scenario_errc::bad_shape);
  CHECK(code_of(R"({"ops": [{"label": "x"}]})") == scenario_errc::bad_shape);
  CHECK(code_of(R"({"ops": [{"op": "log", "label": 3}]})") == scenario_errc::bad_shape);
  CHECK(code_of(R"({"ops": [{"op": "interval", "times": 0}]})") == scenario_errc::bad_shape);
  CHECK(code_of(R"({"ops": [{"op": "timeout", "ms": 600000}]})") == scenario_errc::too_long);
  CHECK(code_of(R"({"ops": [{"op": "interval", "ms": 1, "times": 100000}]})") == scenario_errc::too_long);
  CHECK(code_of(nested(40)) == scenario_errc::too_deep);
  CHECK(code_of(nested(5000)) == scenario_errc::invalid_json);  // the JSON parser's depth limit
  auto r = parse_scenario(R"({"ops": [{"op": "log"}, {"op": "sleep", "label": "z"}]})");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == scenario_errc::unknown_op);
  CHECK(r.error().detail == "ops[1]: unknown op 'sleep'");
  std::string many = R"({"ops":[)";
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + R"({"op":"log"})";
  CHECK(code_of(many + "]}") == scenario_errc::too_many_ops);
}

TEST_CASE("ms is coerced as setTimeout does", "[scenario]") {
  auto r = parse_scenario(R"({"ops": [{"op": "timeout", "ms": 0}, {"op": "timeout", "ms": -3},
                                      {"op": "timeout", "ms": 2.9}, {"op": "timeout", "ms": 3000000000}]})");
  REQUIRE(r.has_value());
  CHECK(r->ops[0].ms == 1);
  CHECK(r->ops[1].ms == 1);
  CHECK(r->ops[2].ms == 2);
  CHECK(r->ops[3].ms == 1);
}

TEST_CASE("run_scenario on a fresh loop gives Node's order", "[scenario]") {
  auto r = run_scenario(R"({"ops": [
      {"op": "timeout", "label": "t0", "ms": 0},
      {"op": "immediate", "label": "imm", "then": [{"op": "promise", "label": "p"}]},
      {"op": "nextTick", "label": "tick"},
      {"op": "microtask", "label": "m"},
      {"op": "interval", "label": "iv", "ms": 1, "times": 2},
      {"op": "log", "label": "sync"}]})");
  REQUIRE(r.has_value());
  // iv#1 and t0 are both 1 ms timers: one list, in start order.
  CHECK(*r == R"({"order":["sync","tick","m","imm","p","t0","iv#1","iv#2"]})");
}

TEST_CASE("start_scenario runs on a live loop and reports through the callback", "[scenario]") {
  event_loop loop;
  std::string out;
  auto started = start_scenario(loop, R"({"ops": [{"op": "io", "label": "a", "then": [{"op": "nextTick", "label": "b"}]}]})",
                                [&](std::string order) { out = std::move(order); });
  REQUIRE(started.has_value());
  loop.run();
  CHECK(out == R"({"order":["a","b"]})");
  CHECK_FALSE(start_scenario(loop, "nope", [](std::string) {}).has_value());
}
