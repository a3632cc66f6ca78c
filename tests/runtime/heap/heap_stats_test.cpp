#include "runtime/heap/heap_stats.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("heap_stats: field names are v8.getHeapStatistics()'s", "[heap][stats]") {
  // Designated initialisers fail to compile if a name drifts from Node's.
  const heap_statistics s{.total_heap_size = 1, .total_heap_size_executable = 2, .total_physical_size = 3,
                          .total_available_size = 4, .used_heap_size = 5, .heap_size_limit = 6,
                          .malloced_memory = 7, .peak_malloced_memory = 8, .does_zap_garbage = 9,
                          .number_of_native_contexts = 10, .number_of_detached_contexts = 11,
                          .total_global_handles_size = 12, .used_global_handles_size = 13, .external_memory = 14};
  CHECK(s.external_memory == 14);
  const heap_space_statistics sp{.space_name = "old_space", .space_size = 1, .space_used_size = 2,
                                 .space_available_size = 3, .physical_space_size = 4};
  CHECK(sp.physical_space_size == 4);
}

TEST_CASE("heap_stats: figures are consistent with the spaces and the limit", "[heap][stats]") {
  heap_options o = testing::small_options();
  o.max_old_space_bytes = 32 * mib;
  testing::checked_heap c(o);
  handle_scope scope(c.h);
  auto a = c.h.new_array().value();
  for (int i = 0; i < 2000; ++i) REQUIRE(c.h.array_push(a, c.h.new_string(std::string(100, 'z')).value().get()));
  REQUIRE(c.h.new_byte_array(300 * 1024));
  persistent<> p(c.h, a.get());
  const heap_statistics s = c.h.statistics();
  const auto spaces = c.h.space_statistics();
  REQUIRE(spaces.size() == 3);
  CHECK(spaces[0].space_name == "new_space");
  CHECK(spaces[1].space_name == "old_space");
  CHECK(spaces[2].space_name == "large_object_space");
  std::size_t used = 0, size = 0;
  for (const auto& sp : spaces) {
    used += sp.space_used_size;
    size += sp.space_size;
    CHECK(sp.space_used_size <= sp.space_size);
    CHECK(sp.physical_space_size == sp.space_size);
  }
  CHECK(s.used_heap_size == used);
  CHECK(s.total_heap_size == size);
  CHECK(s.used_heap_size <= s.total_heap_size);
  CHECK(s.heap_size_limit == 32 * mib + 2 * o.max_semi_space_bytes);
  CHECK(s.total_available_size == s.heap_size_limit - s.used_heap_size);
  CHECK(s.used_global_handles_size == sizeof(value));
  CHECK(s.total_global_handles_size >= s.used_global_handles_size);
  CHECK(s.malloced_memory > 0);
  CHECK(spaces[2].space_used_size >= 300 * 1024);
}

TEST_CASE("heap_stats: per-kind counts and bytes after a major GC count live objects only", "[heap][stats]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array().value();
  for (int i = 0; i < 10; ++i) REQUIRE(c.h.array_push(a, c.h.new_string("s").value().get()));
  {
    handle_scope inner(c.h);
    for (int i = 0; i < 50; ++i) REQUIRE(c.h.new_object());
  }
  CHECK(c.h.object_stats()[object_kind::object].count == 50);
  c.h.collect_garbage(gc_kind::major);
  const object_statistics st = c.h.object_stats();
  CHECK(st[object_kind::string].count == 10);
  CHECK(st[object_kind::string].size_bytes == 10 * string_object::size_for(1));
  CHECK(st[object_kind::array].count == 1);
  CHECK(st[object_kind::fixed_array].count == 1);
  CHECK(st[object_kind::object].count == 0);
}

}  // namespace nodus::runtime::heap
