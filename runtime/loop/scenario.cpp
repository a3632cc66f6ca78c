#include "runtime/loop/scenario.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/json.hpp>
#include <boost/throw_exception.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "runtime/loop/promise.hpp"

namespace nodus::runtime::loop {

namespace json = boost::json;
namespace asio = boost::asio;

// --- errors ------------------------------------------------------------------------------

namespace {
class scenario_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "nodus.scenario"; }
  std::string message(int ev) const override {
    switch (static_cast<scenario_errc>(ev)) {
      case scenario_errc::invalid_json: return "invalid JSON";
      case scenario_errc::bad_shape: return "invalid scenario";
      case scenario_errc::unknown_op: return "unknown op";
      case scenario_errc::too_deep: return "scenario nested too deep";
      case scenario_errc::too_many_ops: return "too many ops";
      case scenario_errc::too_long: return "scenario too long";
    }
    return "scenario error";
  }
};

scenario_error fail(scenario_errc code, std::string detail) {
  return {make_error_code(code), std::move(detail)};
}
}  // namespace

const std::error_category& scenario_category() noexcept {
  static const scenario_category_impl instance;
  return instance;
}

std::error_code make_error_code(scenario_errc e) noexcept { return {static_cast<int>(e), scenario_category()}; }

void throw_exception_from_error(const scenario_error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.code.message() + ": " + e.detail), loc);
}

// --- parsing -----------------------------------------------------------------------------

namespace {

struct parser {
  const scenario_limits& limits;
  std::size_t ops_seen = 0;

  boost::system::result<std::vector<scenario_op>, scenario_error> parse_list(const json::value& v,
                                                                             const std::string& where,
                                                                             std::size_t depth) {
    if (depth > limits.max_depth)
      return fail(scenario_errc::too_deep, where + ": deeper than " + std::to_string(limits.max_depth));
    const json::array* arr = v.if_array();
    if (arr == nullptr) return fail(scenario_errc::bad_shape, where + ": expected an array");
    std::vector<scenario_op> out;
    out.reserve(arr->size());
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto op = parse_op((*arr)[i], where + "[" + std::to_string(i) + "]", depth);
      if (!op) return op.error();
      out.push_back(std::move(*op));
    }
    return out;
  }

  boost::system::result<scenario_op, scenario_error> parse_op(const json::value& v, const std::string& where,
                                                              std::size_t depth) {
    if (++ops_seen > limits.max_ops)
      return fail(scenario_errc::too_many_ops, "more than " + std::to_string(limits.max_ops) + " ops");
    const json::object* obj = v.if_object();
    if (obj == nullptr) return fail(scenario_errc::bad_shape, where + ": expected an object");
    scenario_op op;
    const json::value* kind = obj->if_contains("op");
    if (kind == nullptr || !kind->is_string()) return fail(scenario_errc::bad_shape, where + ": \"op\" must be a string");
    auto k = kind_of(kind->as_string());
    if (!k) return fail(scenario_errc::unknown_op, where + ": unknown op '" + std::string(kind->as_string()) + "'");
    op.kind = *k;
    if (const json::value* label = obj->if_contains("label")) {
      if (!label->is_string()) return fail(scenario_errc::bad_shape, where + ": \"label\" must be a string");
      op.label = std::string(label->as_string());
    }
    if (const json::value* ms = obj->if_contains("ms")) {
      if (!ms->is_number()) return fail(scenario_errc::bad_shape, where + ": \"ms\" must be a number");
      op.ms = coerce_ms(ms->to_number<double>());
      if (op.ms > limits.max_ms)
        return fail(scenario_errc::too_long, where + ": ms over " + std::to_string(limits.max_ms));
    }
    if (const json::value* times = obj->if_contains("times")) {
      if (!times->is_number()) return fail(scenario_errc::bad_shape, where + ": \"times\" must be a number");
      const double t = times->to_number<double>();
      if (!(t >= 1) || t != std::floor(t)) return fail(scenario_errc::bad_shape, where + ": \"times\" must be an integer >= 1");
      if (t > static_cast<double>(limits.max_times))
        return fail(scenario_errc::too_long, where + ": times over " + std::to_string(limits.max_times));
      op.times = static_cast<std::int64_t>(t);
    }
    if (const json::value* then = obj->if_contains("then")) {
      auto list = parse_list(*then, where + ".then", depth + 1);
      if (!list) return list.error();
      op.then = std::move(*list);
    }
    return op;
  }

  static std::optional<scenario_op_kind> kind_of(json::string_view s) {
    using k = scenario_op_kind;
    if (s == "log") return k::log;
    if (s == "nextTick") return k::next_tick;
    if (s == "microtask") return k::microtask;
    if (s == "promise") return k::promise;
    if (s == "immediate") return k::immediate;
    if (s == "timeout") return k::timeout;
    if (s == "interval") return k::interval;
    if (s == "io") return k::io;
    return std::nullopt;
  }

  // setTimeout: `after` outside [1, 2^31-1] (or NaN) becomes 1; insert() truncates.
  static std::int64_t coerce_ms(double after) {
    if (!(after >= 1 && after <= 2147483647.0)) return 1;
    return static_cast<std::int64_t>(std::trunc(after));
  }
};

// Callbacks once intervals repeat their `then`, and a rough wall-time bound, for the limits.
struct cost {
  std::uint64_t executions = 0;
  std::int64_t ms = 0;
};

cost estimate(const std::vector<scenario_op>& ops) {
  cost total;
  for (const auto& op : ops) {
    const cost inner = estimate(op.then);
    const bool timer = op.kind == scenario_op_kind::timeout || op.kind == scenario_op_kind::interval;
    const std::int64_t reps = op.kind == scenario_op_kind::interval ? op.times : 1;
    total.executions = std::min<std::uint64_t>(total.executions + static_cast<std::uint64_t>(reps) * (1 + inner.executions),
                                               std::uint64_t{1} << 62);
    total.ms = std::max(total.ms, (timer ? op.ms * reps : 0) + inner.ms);
  }
  return total;
}

}  // namespace

boost::system::result<scenario, scenario_error> parse_scenario(std::string_view text, const scenario_limits& limits) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 2 * limits.max_depth + 64;  // bounds the JSON parser's own recursion
  const json::value doc = json::parse(text, ec, {}, opts);
  if (ec) return fail(scenario_errc::invalid_json, ec.message());
  const json::object* root = doc.if_object();
  const json::value* ops = root != nullptr ? root->if_contains("ops") : nullptr;
  if (ops == nullptr) return fail(scenario_errc::bad_shape, "expected {\"ops\": [...]}");
  parser p{limits};
  auto list = p.parse_list(*ops, "ops", 0);
  if (!list) return list.error();
  scenario sc{std::move(*list)};
  const cost c = estimate(sc.ops);
  if (c.executions > limits.max_executions)
    return fail(scenario_errc::too_long, "more than " + std::to_string(limits.max_executions) + " callbacks");
  if (c.ms > limits.max_total_ms)
    return fail(scenario_errc::too_long, "longer than " + std::to_string(limits.max_total_ms) + " ms");
  return sc;
}

// --- running -----------------------------------------------------------------------------

namespace {

// A pipe whose read end completes in the poll phase once a byte was written to it. The
// descriptor uses io_context's concrete executor (no any_io_executor type erasure).
using descriptor = asio::posix::basic_stream_descriptor<asio::io_context::executor_type>;
struct pipe_pair {
  descriptor read_end;
  int write_fd = -1;
  explicit pipe_pair(asio::io_context& io) : read_end(io.get_executor()) {}
  ~pipe_pair() {
    if (write_fd >= 0) ::close(write_fd);
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
};

// One run of a scenario. Every pending callback holds a shared_ptr to it, so it lives until
// the last one has run, even after `done` was called.
class scenario_run : public std::enable_shared_from_this<scenario_run> {
 public:
  scenario_run(event_loop& loop, scenario sc, scenario_done done)
      : loop_(loop), scenario_(std::move(sc)), done_(std::move(done)) {}

  // Starts from inside an I/O callback, as the Node runner does.
  void start() {
    auto self = shared_from_this();
    ++outstanding_;
    start_io([self] { self->run_ops(self->scenario_.ops); self->finish_one(); });
  }

  bool finished() const noexcept { return finished_; }

 private:
  void run_ops(const std::vector<scenario_op>& ops) {
    for (const auto& op : ops) run_op(op);
  }

  void run_op(const scenario_op& op) {
    auto self = shared_from_this();
    const scenario_op* p = &op;  // ops live in scenario_, owned by this run
    auto fire = [self, p] {
      self->order_.push_back(p->label);
      self->run_ops(p->then);
      self->finish_one();
    };
    if (op.kind == scenario_op_kind::log) {
      order_.push_back(op.label);
      return run_ops(op.then);
    }
    ++outstanding_;
    switch (op.kind) {
      case scenario_op_kind::next_tick: return loop_.next_tick(fire);
      case scenario_op_kind::microtask: return loop_.queue_microtask(fire);
      case scenario_op_kind::promise: promise<void>::resolved(loop_).then(fire); return;
      case scenario_op_kind::immediate: loop_.set_immediate(fire); return;
      case scenario_op_kind::timeout: loop_.set_timeout(fire, op.ms); return;
      case scenario_op_kind::interval: return start_interval(op);
      case scenario_op_kind::io: return start_io(fire);
      case scenario_op_kind::log: return;
    }
  }

  void start_interval(const scenario_op& op) {
    auto self = shared_from_this();
    auto fired = std::make_shared<std::int64_t>(0);
    auto id = std::make_shared<timer_id>();
    const scenario_op* p = &op;
    *id = loop_.set_interval([self, p, fired, id] {
      ++*fired;
      self->order_.push_back(p->label + "#" + std::to_string(*fired));
      self->run_ops(p->then);
      if (*fired == p->times) {
        self->loop_.clear_timer(*id);
        self->finish_one();
      }
    }, op.ms);
  }

  void start_io(callback on_complete) {
    std::unique_ptr<pipe_pair> pair = take_pipe();
    if (!pair) {  // out of descriptors: still complete, from the next poll phase
      loop_.post(std::move(on_complete));
      return;
    }
    const char byte = 'x';
    [[maybe_unused]] const auto n = ::write(pair->write_fd, &byte, 1);
    pipe_pair& ref = *pair;
    ref.read_end.async_wait(descriptor::wait_read,
                            io_completion{shared_from_this(), std::move(pair), std::move(on_complete),
                                          loop_.track_request("PipeWrap"), loop_.iteration()});
  }

  // libuv reports readiness once per poll phase (one epoll_wait), so an io started during
  // iteration N's poll completes at iteration N+1's poll at the earliest. Asio may find it
  // ready within the same phase; then the completion is re-queued behind this phase.
  struct io_completion {
    std::shared_ptr<scenario_run> self;
    std::unique_ptr<pipe_pair> pair;
    callback cb;
    active_token token;
    std::uint64_t started_in;
    void operator()(boost::system::error_code = {}) {
      if (self->loop_.iteration() == started_in) {
        asio::post(self->loop_.io(), std::move(*this));
        return;
      }
      char sink = 0;
      [[maybe_unused]] const auto r = ::read(pair->read_end.native_handle(), &sink, 1);
      self->pipes_.push_back(std::move(pair));
      token.reset();
      cb();
    }
  };

  std::unique_ptr<pipe_pair> take_pipe() {
    if (!pipes_.empty()) {
      auto p = std::move(pipes_.back());
      pipes_.pop_back();
      return p;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return nullptr;
    auto p = std::make_unique<pipe_pair>(loop_.io());
    boost::system::error_code ec;
    p->read_end.assign(fds[0], ec);
    p->write_fd = fds[1];
    if (ec) {
      ::close(fds[0]);
      return nullptr;
    }
    return p;
  }

  void finish_one() {
    if (--outstanding_ != 0 || finished_) return;
    finished_ = true;
    json::object out;
    json::array& order = out["order"].emplace_array();
    for (auto& label : order_) order.emplace_back(json::string(label));
    if (done_) done_(json::serialize(out));
    done_ = nullptr;
  }

  event_loop& loop_;
  scenario scenario_;
  scenario_done done_;
  std::vector<std::string> order_;
  std::vector<std::unique_ptr<pipe_pair>> pipes_;
  std::uint64_t outstanding_ = 0;
  bool finished_ = false;
};

}  // namespace

boost::system::result<void, scenario_error> start_scenario(event_loop& loop, scenario sc, scenario_done done) {
  auto run = std::make_shared<scenario_run>(loop, std::move(sc), std::move(done));
  run->start();
  return {};
}

boost::system::result<void, scenario_error> start_scenario(event_loop& loop, std::string_view json_text,
                                                           scenario_done done, const scenario_limits& limits) {
  auto sc = parse_scenario(json_text, limits);
  if (!sc) return sc.error();
  return start_scenario(loop, std::move(*sc), std::move(done));
}

boost::system::result<std::string, scenario_error> run_scenario(std::string_view json_text,
                                                                const scenario_limits& limits) {
  auto sc = parse_scenario(json_text, limits);
  if (!sc) return sc.error();
  event_loop loop(system_clock(), 0, loop_options{std::chrono::milliseconds(0)});
  std::string result;
  bool done = false;
  (void)start_scenario(loop, std::move(*sc), [&](std::string order) {
    result = std::move(order);
    done = true;
  });
  loop.run(run_mode::run_default);
  if (!done) return fail(scenario_errc::bad_shape, "the loop ended before the scenario completed");
  return result;
}

}  // namespace nodus::runtime::loop
