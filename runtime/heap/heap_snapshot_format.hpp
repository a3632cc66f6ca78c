#pragma once
// Constants and text helpers of the .heapsnapshot format, shared by the heap_snapshot*.cpp files.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap::snapshot_format {

// meta.node_types[0] / meta.edge_types[0] indexes (NODE_COMPAT §5).
inline constexpr std::uint8_t node_hidden = 0, node_array = 1, node_string = 2, node_object = 3, node_closure = 5,
                                     node_native = 8, node_synthetic = 9;
inline constexpr std::uint8_t edge_context = 0, edge_element = 1, edge_property = 2, edge_internal = 3, edge_hidden = 4,
                                     edge_weak = 6;

inline constexpr std::string_view meta_json =
    R"({"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],)"
    R"("node_types":[["hidden","array","string","object","code","closure","regexp","number","native",)"
    R"("synthetic","concatenated string","sliced string","symbol","bigint","object shape","wasm object"],)"
    R"("string","number","number","number","number","number"],)"
    R"("edge_fields":["type","name_or_index","to_node"],)"
    R"("edge_types":[["context","element","property","internal","hidden","shortcut","weak"],)"
    R"("string_or_number","node"],)"
    R"("trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],)"
    R"("trace_node_fields":["id","function_info_index","count","size","children"],)"
    R"("sample_fields":["timestamp_us","last_assigned_id"],)"
    R"("location_fields":["object_index","script_id","line","column"]})";

inline constexpr root_category categories[4] = {root_category::handle_scope, root_category::global_handles,
                                         root_category::kept_objects, root_category::finalization_pending};
inline constexpr std::uint64_t root_id = 1, gc_roots_id = 3, first_subroot_id = 5;  // below first_object_id

// Names interned first, in this order: index 0 is V8's "<dummy>".
inline constexpr std::string_view fixed_names[] = {
    "<dummy>", "", "(GC roots)", "(Handle scope)", "(Global handles)", "(Kept objects)",
    "(Finalization registry)", "ByteArray", "Array", "Object", "system / Context", "WeakRef", "WeakMap",
    "FinalizationRegistry", "system / FixedArray", "system / EphemeronHashTable",
    "system / FinalizationRegistryCells", "elements", "properties", "context", "previous", "target", "table",
    "cells", "key", "value", "unregister_token"};


// JSON text must be valid UTF-8 (RFC 8259 §8.1) while heap strings hold any bytes, and
// Boost.JSON's serializer copies bytes as they are; no library the project links validates
// UTF-8, hence this small check (tested with invalid input in heap_snapshot_test).
// Length of the valid UTF-8 sequence at s[i], or 0.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// The first `limit` bytes of `s`, not splitting a UTF-8 sequence.
inline std::string_view truncate_utf8(std::string_view s, std::size_t limit) noexcept {
  if (s.size() <= limit) return s;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace nodus::runtime::heap::snapshot_format
