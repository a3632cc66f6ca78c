#pragma once
// objects_codec: JSON documents on a loop's managed heap — JSON.parse into heap objects
// (Object/Array/String/number/boolean/null) and JSON.stringify back, with JavaScript's
// number semantics (every number is a double; int32 values are stored as small integers).
//
// The parser is Boost.JSON's basic_parser driving a handler that allocates on the heap as
// it reads (an explicit stack of open containers, no recursion); it refuses documents nested
// deeper than max_json_depth, and the writer recurses at most that deep, so no input can
// exhaust the loop's stack.
#include <boost/system/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/heap/handles.hpp"
#include "runtime/heap/value.hpp"

namespace nodus::runtime::heap {
class heap;
}

namespace nodus::handlers {

inline constexpr std::size_t max_json_depth = 256;

struct json_parse_error {
  std::string error;   // "invalid_json", "too_deep" (→ 400) or "heap_limit" (→ 507)
  std::string detail;  // a sentence for the response
};

// JSON.parse straight onto `h` (no intermediate tree): RFC 8259 (no comments, no trailing
// commas, valid UTF-8), nested at most max_json_depth deep; numbers correctly rounded as
// JavaScript reads them; a duplicate key keeps its first position and its last value. The
// root is a local in the caller's innermost handle scope. May trigger GC. On failure what
// was built so far is unreachable garbage.
boost::system::result<runtime::heap::local<>, json_parse_error> parse_to_heap(runtime::heap::heap& h,
                                                                              std::string_view text);

// Appends the JSON text of `v` (a value built by parse_to_heap) to `out`, as JSON.stringify:
// integral doubles below 2^53 print as integers, other doubles in the shortest form that
// reads back exactly, non-finite numbers and undefined as null. Never allocates on the heap.
// False (out unspecified) when `v` is not a JSON-shaped value: a kind other than those
// parse_to_heap builds, or nested deeper than max_json_depth.
bool to_json(const runtime::heap::heap& h, runtime::heap::value v, std::string& out);

}  // namespace nodus::handlers
