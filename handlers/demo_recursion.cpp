#include "handlers/demo_recursion.hpp"

#include <pthread.h>

#include <boost/json/object.hpp>

#include <cstring>
#include <optional>
#include <string>

#include "handlers/json_response.hpp"
#include "handlers/query.hpp"
#include "server/error_response.hpp"

namespace nodus::handlers {

namespace http = boost::beast::http;
namespace json = boost::json;
using server::error_response;
using server::request;
using server::request_context;
using server::responder;

namespace {

struct stack_bounds {
  std::uintptr_t low = 0;   // lowest usable address (the stack grows down towards it)
  std::uintptr_t high = 0;  // one past the highest
};

// The calling thread's stack, as the kernel/glibc set it up; cached per thread.
std::optional<stack_bounds> thread_stack() {
  thread_local std::optional<stack_bounds> cached = [] () -> std::optional<stack_bounds> {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return std::nullopt;
    void* addr = nullptr;
    std::size_t size = 0;
    const int rc = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0 || addr == nullptr || size == 0) return std::nullopt;
    const auto low = reinterpret_cast<std::uintptr_t>(addr);
    return stack_bounds{low, low + size};
  }();
  return cached;
}

struct recursion {
  std::uintptr_t limit;         // no frame may start below this address
  std::int64_t target;          // depth to reach
  std::int64_t reached = 0;
  std::uintptr_t lowest_frame;  // address of the deepest frame
  bool overflow = false;
};

// One frame per level: its locals are written before the call and read after it, so the
// compiler can neither drop the frame nor turn the recursion into a loop (no tail call).
// The guard reads the frame's address rather than a local's: under AddressSanitizer with
// detect_stack_use_after_return, locals live on a "fake stack" elsewhere in memory.
[[gnu::noinline]] std::uint64_t recurse(recursion& r, std::int64_t depth) {
  volatile unsigned char locals[recursion_frame_bytes];
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (here < r.limit) {  // the guard: this frame already reaches into the margin
    r.overflow = true;
    return 0;
  }
  locals[0] = static_cast<unsigned char>(depth);
  locals[recursion_frame_bytes - 1] = static_cast<unsigned char>(depth >> 8);
  r.reached = depth;
  r.lowest_frame = here;
  if (depth == r.target) return locals[0];
  const std::uint64_t below = recurse(r, depth + 1);
  if (r.overflow) return 0;
  return below + locals[0] + locals[recursion_frame_bytes - 1];
}

void recursion_demo(const request& req, const request_context& ctx, responder res) {
  const query q(req.target());
  std::string why = "depth is required: a positive integer up to " + std::to_string(recursion_max_depth);
  const auto depth = q.valid() && q.get("depth") ? int_param(q, "depth", 0, 1, recursion_max_depth, why)
                                                 : std::nullopt;
  if (!depth) return res.send(error_response(http::status::bad_request, "bad_request", why));
  const auto stack = thread_stack();
  if (!stack) {
    return res.send(error_response(http::status::internal_server_error, "stack_bounds",
                                   "cannot read this thread's stack bounds"));
  }
  const auto top = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  recursion r{stack->low + stack_safety_margin, *depth, 0, top, false};
  const std::uint64_t checksum = recurse(r, 1);
  if (r.overflow) {
    return res.send(error_response(http::status::unprocessable_entity, "RangeError",
                                   "Maximum call stack size exceeded"));
  }
  const std::uintptr_t used = top - r.lowest_frame;
  res.send(json_response(json::object{
      {"loop", ctx.loop.index()},
      {"depth", r.reached},
      {"stack_used_bytes", used},
      {"bytes_per_frame", static_cast<double>(used) / static_cast<double>(r.reached)},
      {"stack_size_bytes", stack->high - stack->low},
      {"stack_left_bytes", r.lowest_frame - stack->low},
      {"checksum", checksum},
  }));
}

}  // namespace

void register_demo_recursion(server::router& routes) {
  routes.add("/demo/recursion", {http::verb::get}, recursion_demo);
}

}  // namespace nodus::handlers
