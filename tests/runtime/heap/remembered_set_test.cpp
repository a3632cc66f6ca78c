#include "runtime/heap/remembered_set.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("slot_set: records each slot once and drops filtered ones", "[heap][remembered_set]") {
  slot_set set(page_size);
  set.insert(64);
  set.insert(64);
  set.insert(8 * 1000);
  CHECK(set.size() == 2);
  CHECK(set.contains(64));
  CHECK_FALSE(set.contains(72));
  std::vector<std::size_t> seen;
  set.filter([&](std::size_t offset) {
    seen.push_back(offset);
    return offset == 64;
  });
  CHECK(seen == std::vector<std::size_t>{64, 8000});
  CHECK(set.size() == 1);
  CHECK_FALSE(set.contains(8000));
}

namespace {
// An old array (promoted by two scavenges).
local<array_object> old_array(heap& h) {
  auto a = h.new_array(4).value();
  h.collect_garbage(gc_kind::minor);
  h.collect_garbage(gc_kind::minor);
  REQUIRE_FALSE(h.is_young(a.get()));
  return a;
}
}  // namespace

TEST_CASE("write barrier: an old→new store is remembered and keeps the young object alive", "[heap][remembered_set]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = old_array(c.h);
  CHECK(c.h.remembered_slot_count() == 0);
  std::uint64_t young_id = 0;
  {
    handle_scope inner(c.h);
    auto s = c.h.new_string("only reachable from old").value();
    young_id = s->id();
    REQUIRE(c.h.array_push(a, s.get()));
  }
  CHECK(c.h.remembered_slot_count() == 1);
  c.h.collect_garbage(gc_kind::minor);
  REQUIRE(c.h.find_object(young_id) != nullptr);
  CHECK(c.h.array_get(a, 0).as<string_object>()->view() == "only reachable from old");
  // Still young (survived once): the slot stays remembered.
  CHECK(c.h.remembered_slot_count() == 1);
  c.h.collect_garbage(gc_kind::minor);
  CHECK_FALSE(c.h.is_young(c.h.array_get(a, 0)));
  CHECK(c.h.remembered_slot_count() == 0);  // old→old: dropped
  CHECK(c.findings.empty());
}

TEST_CASE("write barrier: overwriting the slot lets the young object die", "[heap][remembered_set]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = old_array(c.h);
  std::uint64_t young_id = 0;
  {
    handle_scope inner(c.h);
    auto s = c.h.new_string("soon unreachable").value();
    young_id = s->id();
    REQUIRE(c.h.array_push(a, s.get()));
  }
  REQUIRE(c.h.array_set(a, 0, value::integer(7)));
  c.h.collect_garbage(gc_kind::minor);
  CHECK(c.h.find_object(young_id) == nullptr);
  CHECK(c.h.remembered_slot_count() == 0);
}

TEST_CASE("write barrier: young→young and old→old stores are not remembered", "[heap][remembered_set]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto young = c.h.new_array(2).value();
  auto s = c.h.new_string("x").value();
  REQUIRE(c.h.array_push(young, s.get()));
  CHECK(c.h.remembered_slot_count() == 0);
  auto old = old_array(c.h);
  REQUIRE_FALSE(c.h.is_young(s.get()));
  REQUIRE(c.h.array_push(old, s.get()));
  CHECK(c.h.remembered_slot_count() == 0);
}

}  // namespace nodus::runtime::heap

namespace nodus::runtime::heap {

TEST_CASE("slot_set: for_each visits recorded slots in order, erase and release_if_empty", "[heap][remembered_set]") {
  slot_set set(page_size);
  set.insert(8);
  set.insert(64 * 8);
  set.insert(4096);
  std::vector<std::size_t> seen;
  set.for_each([&](std::size_t offset) {
    seen.push_back(offset);
    set.erase(offset);  // erasing while visiting is allowed
  });
  CHECK(seen == std::vector<std::size_t>{8, 64 * 8, 4096});
  CHECK(set.empty());
  set.erase(8);  // erasing an absent slot is a no-op
  CHECK(set.size() == 0);
  set.release_if_empty();
  CHECK(set.memory_bytes() == 0);
}

}  // namespace nodus::runtime::heap
