#pragma once
// The loop-ordering scenario format shared with Node (tests/js/scenario_runner.js):
//   {"ops": [OP, ...]}, OP = {"op": KIND, "label": "name", "ms": N, "times": N, "then": [OP, ...]}
// KIND: log | nextTick | microtask | promise | immediate | timeout | interval | io.
// Every deferred op logs its label when its callback runs (an interval logs "label#k" and
// clears itself after `times` firings), then runs its `then` ops from inside that callback.
// `io` is a real asynchronous read on a pipe whose completion runs in the poll phase. The
// whole scenario starts from inside an I/O callback. The result is {"order": ["label", ...]}.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/system/result.hpp>

#include "runtime/loop/event_loop.hpp"

namespace nodus::runtime::loop {

enum class scenario_errc {
  invalid_json = 1,  // not JSON
  bad_shape,         // JSON, but not {"ops": [...]} or a field of the wrong type
  unknown_op,
  too_deep,
  too_many_ops,
  too_long,          // ms, times or the estimated run time over the limits
};
const std::error_category& scenario_category() noexcept;
std::error_code make_error_code(scenario_errc e) noexcept;

struct scenario_error {
  std::error_code code;
  std::string detail;  // e.g. "ops[1].then[0]: unknown op 'sleep'"
};
// Lets boost::system::result<T, scenario_error>::value() throw.
[[noreturn]] void throw_exception_from_error(const scenario_error& e, const boost::source_location& loc);

struct scenario_limits {
  std::size_t max_ops = 1000;          // ops in the document
  std::size_t max_depth = 16;          // nesting of `then`
  std::uint64_t max_executions = 20000;  // callbacks once intervals are expanded
  std::int64_t max_ms = 10000;         // per timer (values Node coerces to 1 are accepted)
  std::int64_t max_times = 100;        // interval firings
  std::int64_t max_total_ms = 30000;   // estimated wall time
};

enum class scenario_op_kind { log, next_tick, microtask, promise, immediate, timeout, interval, io };

struct scenario_op {
  scenario_op_kind kind = scenario_op_kind::log;
  std::string label;
  std::int64_t ms = 1;     // after setTimeout's coercion
  std::int64_t times = 1;  // interval only
  std::vector<scenario_op> then;
};

struct scenario {
  std::vector<scenario_op> ops;
};

boost::system::result<scenario, scenario_error> parse_scenario(std::string_view json,
                                                               const scenario_limits& limits = {});

// Runs the scenario on a fresh loop (real clock) and returns {"order": [...]} as JSON text.
boost::system::result<std::string, scenario_error> run_scenario(std::string_view json,
                                                                const scenario_limits& limits = {});

// Starts the scenario on a live loop (call on that loop's thread, e.g. from an HTTP
// handler); `done` receives {"order": [...]} on the loop thread once every deferred op has
// run. Returns an error (and never calls `done`) if the scenario is invalid.
using scenario_done = std::function<void(std::string order_json)>;
boost::system::result<void, scenario_error> start_scenario(event_loop& loop, std::string_view json,
                                                           scenario_done done,
                                                           const scenario_limits& limits = {});
boost::system::result<void, scenario_error> start_scenario(event_loop& loop, scenario sc,
                                                           scenario_done done);

}  // namespace nodus::runtime::loop

template <>
struct std::is_error_code_enum<nodus::runtime::loop::scenario_errc> : std::true_type {};
