#pragma once
// GET /demo/recursion?depth=N: a real recursive C++ function on the loop thread, N frames
// deep, under a stack guard as V8's StackGuard: before going one frame deeper the function
// compares its frame address with the thread's actual stack low end (pthread_getattr_np)
// plus a safety margin. Too deep → 422 {"error":"RangeError","detail":"Maximum call stack
// size exceeded"} (Node's message), the stack unwinds normally and the loop serves on.
#include <cstddef>
#include <cstdint>

#include "server/router.hpp"

namespace nodus::handlers {

inline constexpr std::int64_t recursion_max_depth = 1'000'000;  // hard cap on N
inline constexpr std::size_t recursion_frame_bytes = 256;       // locals of each frame
// Room left below the deepest permitted frame: the guard call itself and whatever a
// sanitizer adds to a frame.
inline constexpr std::size_t stack_safety_margin = 64 * 1024;

void register_demo_recursion(server::router& routes);

}  // namespace nodus::handlers
