#include "runtime/heap/verifier.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("verifier: a consistent heap has no findings", "[heap][verifier]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array().value();
  REQUIRE(c.h.array_push(a, c.h.new_string("x").value().get()));
  c.h.collect_garbage(gc_kind::major);
  CHECK(c.h.verify().empty());
}

TEST_CASE("verifier: finds a reference into from-space", "[heap][verifier]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array(1).value();
  auto s = c.h.new_string("moved").value();
  const value stale = s.get();  // raw value: invalid after the next GC
  c.h.collect_garbage(gc_kind::minor);
  a->elements.as<fixed_array_object>()->slots()[0] = stale;  // bypasses handles: dangling
  a->length = 1;
  const auto findings = c.h.verify();
  REQUIRE_FALSE(findings.empty());
  CHECK(findings[0].find("from-space") != std::string::npos);
  a->elements.as<fixed_array_object>()->slots()[0] = value::undefined();
}

TEST_CASE("verifier: finds an old→new store that bypassed the write barrier", "[heap][verifier]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array(1).value();
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::minor);
  REQUIRE_FALSE(c.h.is_young(a->elements));
  auto s = c.h.new_string("young").value();
  a->elements.as<fixed_array_object>()->slots()[0] = s.get();  // no barrier
  const auto findings = c.h.verify();
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].find("remembered set") != std::string::npos);
  c.h.write(a->elements.as_object(), &a->elements.as<fixed_array_object>()->slots()[0], s.get());
  CHECK(c.h.verify().empty());
}

TEST_CASE("verifier: with verify_heap, findings after a GC reach the failure handler", "[heap][verifier]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array(1).value();
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::minor);
  auto s = c.h.new_string("young").value();
  auto* slot = &a->elements.as<fixed_array_object>()->slots()[0];
  *slot = s.get();  // no barrier: the scavenger will not update this slot
  c.h.collect_garbage(gc_kind::minor);
  REQUIRE_FALSE(c.findings.empty());
  CHECK(c.findings[0].find("from-space") != std::string::npos);
  *slot = value::undefined();
}

}  // namespace nodus::runtime::heap
