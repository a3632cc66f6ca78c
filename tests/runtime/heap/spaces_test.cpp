// Allocators: new-space bump allocation and growth, old-space pages and free lists.
#include <catch2/catch.hpp>

#include "runtime/heap/free_list.hpp"
#include "runtime/heap/new_space.hpp"
#include "runtime/heap/old_space.hpp"
#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("new_space: bump allocation is contiguous and fails when the semi-space is full", "[heap][allocator]") {
  new_space space(64 * 1024, 256 * 1024);
  heap_object* a = space.allocate(32);
  heap_object* b = space.allocate(48);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(b->address() == a->address() + 32);
  CHECK(space.used_bytes() == 80);
  CHECK(space.contains(a));
  std::size_t n = 0;
  while (space.allocate(1024) != nullptr) ++n;
  CHECK(n == (64 * 1024 - 80) / 1024);
  CHECK(space.used_bytes() <= space.capacity());
}

TEST_CASE("new_space: capacity doubles once survivors exceed it, up to the maximum", "[heap][allocator]") {
  new_space space(64 * 1024, 256 * 1024);
  space.record_survivors(40 * 1024);
  CHECK(space.target_capacity() == 64 * 1024);
  space.record_survivors(40 * 1024);
  CHECK(space.target_capacity() == 128 * 1024);
  for (int i = 0; i < 10; ++i) space.record_survivors(300 * 1024);
  CHECK(space.target_capacity() == 256 * 1024);
  REQUIRE(space.prepare_to_space());
  CHECK(space.to_space().capacity() == 256 * 1024);
}

TEST_CASE("free_list: returns a block at least as large as asked, reuses freed blocks", "[heap][allocator]") {
  alignas(16) static std::byte memory[4096];
  free_list list;
  list.add(memory, 64);
  list.add(memory + 64, 1024);
  list.add(memory + 1088, 8);  // too small to link: only filled
  CHECK(list.available_bytes() == 64 + 1024);
  std::size_t got = 0;
  std::byte* block = list.take(100, &got);
  CHECK(block == memory + 64);
  CHECK(got == 1024);
  block = list.take(64, &got);
  CHECK(block == memory);
  CHECK(list.take(16, &got) == nullptr);
  CHECK(reinterpret_cast<heap_object*>(memory + 1088)->kind() == object_kind::one_word_filler);
}

TEST_CASE("old_space: allocates in 256 KiB pages and only grows when allowed", "[heap][allocator]") {
  old_space space;
  CHECK(space.allocate(64, false) == nullptr);
  heap_object* a = space.allocate(64, true);
  REQUIRE(a != nullptr);
  CHECK(space.pages().size() == 1);
  CHECK(memory_chunk::of(a) == space.pages()[0]);
  CHECK(space.committed_bytes() == page_size);
  // Fill the page: the next allocation needs a second page.
  std::size_t n = 0;
  while (space.allocate(4096, false) != nullptr) ++n;
  CHECK(n == (old_space::max_object_bytes() - 64) / 4096);
  CHECK(space.allocate(4096, true) != nullptr);
  CHECK(space.pages().size() == 2);
  CHECK(space.used_bytes() == 64 + (n + 1) * 4096);
}

TEST_CASE("heap: objects above the threshold go to large-object space, others to new space", "[heap][allocator]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto small = c.h.new_byte_array(1000).value();
  auto large = c.h.new_byte_array(200 * 1024).value();
  CHECK(c.h.is_young(small.get()));
  CHECK_FALSE(c.h.is_young(large.get()));
  CHECK(c.h.in_large_object_space(large.get()));
  CHECK(c.h.young_used_bytes() >= 1000);
}

TEST_CASE("heap: allocation past a full new space scavenges instead of failing", "[heap][allocator]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  for (int i = 0; i < 20000; ++i) {
    handle_scope inner(c.h);
    REQUIRE(c.h.new_string("garbage garbage garbage"));
  }
  CHECK(c.h.tracer().totals(gc_kind::minor).count > 5);
  CHECK(c.findings.empty());
}

}  // namespace nodus::runtime::heap
