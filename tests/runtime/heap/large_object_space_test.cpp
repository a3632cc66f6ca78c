#include "runtime/heap/large_object_space.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("large_object_space: large objects never move and are freed when unreachable", "[heap][large_object]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto big = c.h.new_byte_array(300 * 1024).value();
  big->bytes()[12345] = std::byte{42};
  const heap_object* address = big.raw();
  std::uint64_t dead_id = 0;
  {
    handle_scope inner(c.h);
    dead_id = (c.h.new_byte_array(200 * 1024).value())->id();
  }
  const auto lo_used = [&] { return c.h.space_statistics()[2].space_used_size; };
  CHECK(lo_used() >= 500 * 1024);
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::major);
  c.h.collect_garbage(gc_kind::major);
  CHECK(big.raw() == address);
  CHECK(big->bytes()[12345] == std::byte{42});
  CHECK(c.h.find_object(dead_id) == nullptr);
  CHECK(lo_used() == big->size_bytes());
  CHECK(c.findings.empty());
}

TEST_CASE("large_object_space: a large array's young elements are remembered", "[heap][large_object]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array(40000).value();  // 320 KiB of elements: a large backing store
  REQUIRE(c.h.in_large_object_space(a->elements));
  {
    handle_scope inner(c.h);
    REQUIRE(c.h.array_set(a, 39999, c.h.new_string("young").value().get()));
  }
  CHECK(c.h.remembered_slot_count() == 1);
  c.h.collect_garbage(gc_kind::minor);
  CHECK(c.h.array_get(a, 39999).as<string_object>()->view() == "young");
  CHECK(c.findings.empty());
}

}  // namespace nodus::runtime::heap
