#include "runtime/heap/marker.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("marker: a major GC frees unreachable old objects, cycles included", "[heap][marker]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto keep = c.h.new_object().value();
  std::uint64_t a_id = 0, b_id = 0;
  {
    handle_scope inner(c.h);
    auto a = c.h.new_array().value();
    auto b = c.h.new_array().value();
    REQUIRE(c.h.array_push(a, b.get()));
    REQUIRE(c.h.array_push(b, a.get()));  // a cycle
    a_id = a->id();
    b_id = b->id();
    c.h.collect_garbage(gc_kind::minor);
    c.h.collect_garbage(gc_kind::minor);
    REQUIRE_FALSE(c.h.is_young(a.get()));
  }
  c.h.collect_garbage(gc_kind::minor);  // old garbage survives a minor GC
  CHECK(c.h.find_object(a_id) != nullptr);
  c.h.collect_garbage(gc_kind::major);
  CHECK(c.h.find_object(a_id) == nullptr);
  CHECK(c.h.find_object(b_id) == nullptr);
  CHECK(c.h.find_object(keep->id()) != nullptr);
  CHECK(c.h.tracer().recent().back().freed_bytes > 0);
  CHECK(c.findings.empty());
}

TEST_CASE("marker: a 200k-long old chain is marked with the explicit worklist", "[heap][marker]") {
  heap_options o = testing::small_options();
  o.verify_heap = false;
  testing::checked_heap c(o);
  handle_scope scope(c.h);
  auto head = c.h.new_context(value::null(), 0).value();
  {
    handle_scope inner(c.h);
    local<context_object> tail = head;
    for (int i = 0; i < 200000; ++i) {
      handle_scope step(c.h);
      auto next = c.h.new_context(tail.get(), 0).value();
      *tail.slot() = next.get();
    }
    auto s = c.h.new_closure(42, tail.get()).value();
    *head.slot() = s->context;  // head now refers to the newest context
  }
  c.h.collect_garbage(gc_kind::major);
  std::size_t length = 0;
  for (const context_object* ctx = head.raw(); ctx->parent.is_reference(); ++length) ctx = ctx->parent.as<context_object>();
  CHECK(length == 200000);
  CHECK(c.h.object_stats()[object_kind::context].count == 200001);
  CHECK(c.h.verify().empty());
}

TEST_CASE("marker: ephemeron values live exactly as long as their keys", "[heap][marker][ephemeron]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto map = c.h.new_weak_map().value();
  auto key = c.h.new_object().value();
  std::uint64_t value_id = 0, dead_value_id = 0;
  {
    handle_scope inner(c.h);
    auto v = c.h.new_string("value of a live key").value();
    value_id = v->id();
    REQUIRE(c.h.weak_map_set(map, key.get(), v.get()));
    auto dead_key = c.h.new_object().value();
    auto dv = c.h.new_string("value of a dead key").value();
    dead_value_id = dv->id();
    REQUIRE(c.h.weak_map_set(map, dead_key.get(), dv.get()));
  }
  c.h.collect_garbage(gc_kind::major);
  CHECK(c.h.find_object(value_id) != nullptr);
  CHECK(c.h.find_object(dead_value_id) == nullptr);
  CHECK(c.h.weak_map_size(map) == 1);
  REQUIRE(c.h.weak_map_get(map, key.get()));
  CHECK(c.h.weak_map_get(map, key.get())->as<string_object>()->view() == "value of a live key");
  CHECK(c.h.tracer().recent().back().ephemerons_cleared == 1);
}

TEST_CASE("marker: ephemeron chains reach a fixpoint (value of one entry is the key of the next)", "[heap][marker][ephemeron]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto map = c.h.new_weak_map().value();
  auto first = c.h.new_object().value();
  std::vector<std::uint64_t> chain_ids;
  {
    handle_scope inner(c.h);
    // Insert in reverse so one pass over the table cannot resolve the chain.
    std::vector<local<js_object>> keys{first};
    for (int i = 0; i < 50; ++i) keys.push_back(c.h.new_object().value());
    for (int i = 49; i >= 0; --i) REQUIRE(c.h.weak_map_set(map, keys[static_cast<std::size_t>(i)].get(), keys[static_cast<std::size_t>(i) + 1].get()));
    for (auto& k : keys) chain_ids.push_back(k->id());
  }
  c.h.collect_garbage(gc_kind::major);
  for (auto id : chain_ids) CHECK(c.h.find_object(id) != nullptr);
  CHECK(c.h.weak_map_size(map) == 50);
  // Drop the head: the whole chain goes in one GC.
  *first.slot() = value::undefined();
  c.h.collect_garbage(gc_kind::major);
  for (auto id : chain_ids) CHECK(c.h.find_object(id) == nullptr);
  CHECK(c.h.weak_map_size(map) == 0);
  CHECK(c.findings.empty());
}

}  // namespace nodus::runtime::heap
