#include "runtime/heap/scavenger.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("scavenger: copies survivors, promotes on the second survival, drops garbage", "[heap][scavenger]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto live = c.h.new_string("live").value();
  {
    handle_scope garbage(c.h);
    for (int i = 0; i < 100; ++i) REQUIRE(c.h.new_string("garbage object"));
  }
  const std::size_t used_before = c.h.young_used_bytes();
  c.h.collect_garbage(gc_kind::minor);
  CHECK(c.h.young_used_bytes() == live->size_bytes());
  CHECK(c.h.young_used_bytes() < used_before);
  CHECK(c.h.survived_once_for_testing(live.get()));
  const gc_event first = c.h.tracer().recent().back();
  CHECK(first.kind == gc_kind::minor);
  CHECK(first.copied_bytes == live->size_bytes());
  CHECK(first.promoted_bytes == 0);
  CHECK(first.objects_moved == 1);

  c.h.collect_garbage(gc_kind::minor);
  CHECK_FALSE(c.h.is_young(live.get()));
  CHECK(c.h.young_used_bytes() == 0);
  const gc_event second = c.h.tracer().recent().back();
  CHECK(second.promoted_bytes == live->size_bytes());
  CHECK(live->view() == "live");
  CHECK(c.findings.empty());
}

TEST_CASE("scavenger: updates every reference to a copied object, cycles included", "[heap][scavenger]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array().value();
  auto b = c.h.new_array().value();
  auto s = c.h.new_string("shared").value();
  REQUIRE(c.h.array_push(a, b.get()));
  REQUIRE(c.h.array_push(b, a.get()));
  REQUIRE(c.h.array_push(a, s.get()));
  REQUIRE(c.h.array_push(b, s.get()));
  c.h.collect_garbage(gc_kind::minor);
  CHECK(c.h.array_get(a, 0) == b.get());
  CHECK(c.h.array_get(b, 0) == a.get());
  CHECK(c.h.array_get(a, 1) == s.get());
  CHECK(c.h.array_get(b, 1) == s.get());
  CHECK(c.h.object_stats()[object_kind::string].count == 1);
  c.h.collect_garbage(gc_kind::minor);
  CHECK(c.h.array_get(a, 1).as<string_object>()->view() == "shared");
  CHECK(c.findings.empty());
}

TEST_CASE("scavenger: a backing store is promoted with its owner", "[heap][scavenger]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array().value();
  c.h.collect_garbage(gc_kind::minor);
  REQUIRE(c.h.array_push(a, value::integer(1)));  // store allocated after the array survived once
  c.h.collect_garbage(gc_kind::minor);               // array promoted: its store follows
  CHECK_FALSE(c.h.is_young(a.get()));
  CHECK_FALSE(c.h.is_young(a->elements));
  CHECK(c.h.array_get(a, 0).as_integer() == 1);
}

TEST_CASE("scavenger: deep young structures are copied without recursion", "[heap][scavenger]") {
  heap_options o = testing::small_options();
  o.semi_space_bytes = 4 * mib;
  o.max_semi_space_bytes = 4 * mib;
  testing::checked_heap c(o);
  handle_scope scope(c.h);
  auto head = c.h.new_array().value();
  {
    handle_scope inner(c.h);
    local<array_object> tail = head;
    for (int i = 0; i < 20000; ++i) {
      auto next = c.h.new_array().value();
      REQUIRE(c.h.array_push(tail, next.get()));
      tail = next;
    }
  }
  c.h.collect_garbage(gc_kind::minor);
  std::size_t length = 0;
  for (const array_object* a = head.raw(); a->length > 0; ++length) {
    a = a->elements.as<fixed_array_object>()->slots()[0].as<array_object>();
  }
  CHECK(length == 20000);
  CHECK(c.findings.empty());
}

}  // namespace nodus::runtime::heap
