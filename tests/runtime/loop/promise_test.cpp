// runtime/loop/promise: continuations are microtasks, chains interleave as in JS.
#include "runtime/loop/promise.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace nodus::runtime::loop;
using namespace std::chrono_literals;

TEST_CASE("then runs as a microtask, after nextTicks, in registration order", "[promise]") {
  manual_clock clk;
  event_loop loop(clk, 0, loop_options{0ms});
  std::vector<std::string> log;
  promise<int> p(loop);
  p.then([&](int v) { log.push_back("then1:" + std::to_string(v)); });
  p.then([&](int v) { log.push_back("then2:" + std::to_string(v)); });
  loop.next_tick([&] { log.push_back("tick"); });
  p.resolve(7);
  p.resolve(8);  // ignored
  CHECK(log.empty());
  loop.run(run_mode::nowait);
  CHECK(log == std::vector<std::string>{"tick", "then1:7", "then2:7"});
}

TEST_CASE("chains take one microtask per step and interleave like JS", "[promise]") {
  manual_clock clk;
  event_loop loop(clk, 0, loop_options{0ms});
  std::vector<std::string> log;
  promise<void>::resolved(loop)
      .then([&] { log.push_back("a1"); return 1; })
      .then([&](int v) { log.push_back("a2:" + std::to_string(v)); });
  promise<void>::resolved(loop).then([&] { log.push_back("b1"); }).then([&] { log.push_back("b2"); });
  loop.run(run_mode::nowait);
  // Promise.resolve().then(a1).then(a2); Promise.resolve().then(b1).then(b2) → a1 b1 a2 b2
  CHECK(log == std::vector<std::string>{"a1", "b1", "a2:1", "b2"});
}

TEST_CASE("a returned promise is adopted with JS's two extra microtasks", "[promise]") {
  manual_clock clk;
  event_loop loop(clk, 0, loop_options{0ms});
  std::vector<std::string> log;
  promise<void>::resolved(loop)
      .then([&] { log.push_back("a1"); return promise<int>::resolved(loop, 5); })
      .then([&](int v) { log.push_back("a2:" + std::to_string(v)); });
  promise<void>::resolved(loop)
      .then([&] { log.push_back("b1"); })
      .then([&] { log.push_back("b2"); })
      .then([&] { log.push_back("b3"); })
      .then([&] { log.push_back("b4"); });
  loop.run(run_mode::nowait);
  // Node: a1 b1 b2 b3 a2:5 b4
  CHECK(log == std::vector<std::string>{"a1", "b1", "b2", "b3", "a2:5", "b4"});
}

TEST_CASE("rejections skip then and reach catch_, throwing rejects", "[promise]") {
  manual_clock clk;
  event_loop loop(clk, 0, loop_options{0ms});
  std::string seen;
  promise<int> p(loop);
  p.then([](int v) { return v + 1; })
      .then([](int) -> int { throw std::runtime_error("in then"); })
      .then([&](int) { seen = "not reached"; return 0; })
      .catch_([&](std::exception_ptr e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          seen = ex.what();
        }
        return -1;
      })
      .then([&](int v) { seen += ":" + std::to_string(v); });
  p.resolve(1);
  loop.run(run_mode::nowait);
  CHECK(seen == "in then:-1");
  promise<void> r(loop);
  bool caught = false;
  r.catch_([&](std::exception_ptr) { caught = true; });
  r.reject(std::make_exception_ptr(std::runtime_error("x")));
  CHECK(r.is_rejected());
  loop.run(run_mode::nowait);
  CHECK(caught);
}
