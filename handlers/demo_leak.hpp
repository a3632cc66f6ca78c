#pragma once
// The seed's three memory leaks, built for real on the serving loop's managed heap. Each
// leaked item is a closure whose context holds an N KiB ByteArray, as in JavaScript:
//   closure:  emitter.callbacks.push(() => big.length)       kept by the global emitter
//   listener: emitter.on('data', () => big.length)           added, never removed
//   interval: setInterval(() => big.length, ms)              a loop timer, never cleared
// The emitter is a per-loop global object (a persistent handle: "(Global handles)" in a heap
// snapshot) with Node's EventEmitter shape: { callbacks: [...], _events: { data: [...] } }.
// An interval's closure is held by its C++ timer callback through a persistent handle, as
// Node's timer list holds a setInterval callback.
//
//   POST   /demo/leak/{closure|listener|interval}?kb=N&count=M[&ms=T]   builds M items
//   GET    /demo/leak     what is retained now (read from the heap) + the leak detector
//   DELETE /demo/leak     the fix: callbacks dropped, listeners removed, intervals cleared
// A request is all or nothing: its items are built first and attached only when every
// allocation succeeded, so heap exhaustion (507) leaves what was stored before intact.
#include <boost/json/object.hpp>

#include <cstdint>
#include <string_view>

#include "handlers/isolates.hpp"
#include "runtime/heap/leak_detector.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

inline constexpr std::int64_t leak_default_kb = 64;
inline constexpr std::int64_t leak_max_kb = 64 * 1024;             // one item <= 64 MiB
inline constexpr std::int64_t leak_max_count = 10'000;
inline constexpr std::int64_t leak_max_request_kb = 1024 * 1024;  // kb * count <= 1 GiB
inline constexpr std::int64_t leak_default_interval_ms = 1000;

void register_demo_leak(server::router& routes, const isolate_registry& isolates);

// The name of a leak closure's "JavaScript function" by closure_object::function_id, for a
// heap snapshot's closure nodes (snapshot_options::closure_name); empty for other ids.
std::string_view demo_leak_function_name(std::uint64_t function_id) noexcept;

// The heap's leak detector state as JSON (GET /demo/leak; /debug/heap may reuse it).
boost::json::object leak_status_json(const runtime::heap::leak_status& s);

}  // namespace nodus::handlers
