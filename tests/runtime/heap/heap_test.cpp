#include "runtime/heap/heap.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("heap: exhausting max_old_space_size returns out_of_memory, and the heap recovers", "[heap][limit]") {
  heap_options o = testing::small_options();
  o.max_old_space_bytes = 4 * mib;
  o.initial_old_space_limit_bytes = 1 * mib;
  testing::checked_heap c(o);
  std::vector<persistent<>> retained;
  boost::system::error_code failure;
  for (int i = 0; i < 100000 && !failure; ++i) {
    handle_scope scope(c.h);
    auto b = c.h.new_byte_array(16 * 1024);
    if (!b) {
      failure = b.error();
      break;
    }
    retained.emplace_back(c.h, b.value().get());
  }
  REQUIRE(failure == heap_errc::out_of_memory);
  // Promotion inside the failing allocation's scavenge and major GC may overshoot by at most
  // two semi-spaces.
  CHECK(c.h.old_generation_used_bytes() <= o.max_old_space_bytes + 2 * o.max_semi_space_bytes);
  CHECK(c.h.tracer().totals(gc_kind::major).count > 0);
  // Large allocations fail the same way.
  {
    handle_scope scope(c.h);
    CHECK(c.h.new_byte_array(1 * mib).error() == heap_errc::out_of_memory);
  }
  // Dropping the retained set makes room again.
  retained.clear();
  handle_scope scope(c.h);
  CHECK(c.h.new_byte_array(1 * mib));
  CHECK(c.h.new_byte_array(16 * 1024));
  CHECK(c.findings.empty());
}

TEST_CASE("heap: objects keep string-keyed properties in insertion order", "[heap][object]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto o = c.h.new_object().value();
  REQUIRE(c.h.set_property(o, "b", value::integer(1)));
  REQUIRE(c.h.set_property(o, "a", value::integer(2)));
  REQUIRE(c.h.set_property(o, "c", value::integer(3)));
  REQUIRE(c.h.set_property(o, "b", value::integer(4)));  // update keeps the position
  CHECK(c.h.property_count(o) == 3);
  c.h.collect_garbage(gc_kind::minor);
  std::vector<std::string> keys;
  std::vector<int> values;
  c.h.for_each_property(o, [&](std::string_view k, value v, value) {
    keys.emplace_back(k);
    values.push_back(v.as_integer());
  });
  CHECK(keys == std::vector<std::string>{"b", "a", "c"});
  CHECK(values == std::vector<int>{4, 2, 3});
  CHECK(c.h.delete_property(o, "a"));
  CHECK_FALSE(c.h.delete_property(o, "a"));
  CHECK_FALSE(c.h.get_property(o, "a"));
  CHECK(c.h.get_property(o, "c")->as_integer() == 3);
  CHECK(c.h.property_count(o) == 2);
}

TEST_CASE("heap: arrays grow, fill holes with undefined, keep contents across GCs", "[heap][array]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto a = c.h.new_array().value();
  for (int i = 0; i < 1000; ++i) REQUIRE(c.h.array_push(a, value::integer(i)));
  REQUIRE(c.h.array_set(a, 1500, value::number(2.5)));
  CHECK(c.h.array_length(a) == 1501);
  c.h.collect_garbage(gc_kind::major);
  CHECK(c.h.array_get(a, 999).as_integer() == 999);
  CHECK(c.h.array_get(a, 1200).is_undefined());
  CHECK(c.h.array_get(a, 1500).as_double() == 2.5);
  CHECK(c.h.array_get(a, 5000).is_undefined());
  CHECK(c.h.array_set(a, 1u << 30, value::null()).error() == heap_errc::invalid_argument);
}

TEST_CASE("heap: closures capture contexts, contexts chain to parents", "[heap][closure]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto outer = c.h.new_context(value::null(), 1).value();
  auto inner = c.h.new_context(outer.get(), 2).value();
  c.h.context_set(inner, 1, c.h.new_string("captured").value().get());
  auto f = c.h.new_closure(7, inner.get()).value();
  *outer.slot() = value::undefined();
  *inner.slot() = value::undefined();
  c.h.collect_garbage(gc_kind::major);
  CHECK(f->function_id == 7);
  auto* ctx = f->context.as<context_object>();
  CHECK(ctx->slots()[1].as<string_object>()->view() == "captured");
  CHECK(ctx->parent.as<context_object>()->slot_count == 1);
  CHECK(c.h.new_context(value::integer(1), 0).error() == heap_errc::invalid_argument);
}

TEST_CASE("heap: explicit GCs are reported to the observer with their kind", "[heap]") {
  testing::checked_heap c;
  std::vector<gc_kind> kinds;
  c.h.set_gc_observer([&](const gc_event& e) { kinds.push_back(e.kind); });
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::major);
  CHECK(kinds == std::vector<gc_kind>{gc_kind::minor, gc_kind::major});
}

TEST_CASE("heap: snapshot iteration reports objects, named edges and categorised roots", "[heap][snapshot]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto o = c.h.new_object().value();
  auto s = c.h.new_string("v").value();
  REQUIRE(c.h.set_property(o, "name", s.get()));
  auto r = c.h.new_weak_ref(o.get()).value();
  persistent<> p(c.h, r.get());
  std::vector<std::pair<edge_kind, std::string>> edges;
  c.h.for_each_reference(o.raw(), [&](const heap_reference& e) { edges.emplace_back(e.kind, std::string(e.name)); });
  REQUIRE(edges.size() == 2);
  CHECK(edges[0] == std::pair<edge_kind, std::string>{edge_kind::property, "name"});
  CHECK(edges[1] == std::pair<edge_kind, std::string>{edge_kind::internal, "properties"});
  std::vector<heap_reference> weak;
  c.h.for_each_reference(r.raw(), [&](const heap_reference& e) { weak.push_back(e); });
  REQUIRE(weak.size() == 1);
  CHECK(weak[0].kind == edge_kind::weak);
  CHECK(weak[0].target == o.get());
  std::map<root_category, int> roots;
  c.h.for_each_root([&](root_category cat, value) { ++roots[cat]; });
  CHECK(roots[root_category::handle_scope] == 3);
  CHECK(roots[root_category::global_handles] == 1);
  CHECK(roots[root_category::kept_objects] == 1);
  std::size_t objects = 0;
  c.h.for_each_object([&](heap_object* obj) { objects += !is_backing_store(obj->kind()); });
  CHECK(objects == 4);  // object, value string, key string, weak ref
  CHECK(c.h.find_object(s->id()) == s.raw());
}

}  // namespace nodus::runtime::heap

namespace nodus::runtime::heap {

TEST_CASE("heap: raw allocation initialises leaf objects, a raw pointer kept in a handle survives GC",
          "[heap][allocate]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  byte_array_object* b = c.h.new_byte_array_raw(13);
  REQUIRE(b != nullptr);
  CHECK(b->kind() == object_kind::byte_array);
  CHECK(b->size_bytes() == byte_array_object::size_for(13));
  CHECK(b->length == 13);
  CHECK(b->id() % 2 == 1);
  for (std::byte x : b->bytes()) CHECK(x == std::byte{0});
  b->bytes()[12] = std::byte{7};
  local<byte_array_object> kept = scope.make<byte_array_object>(value::reference(b));
  string_object* s = c.h.new_string_raw("hello");
  REQUIRE(s != nullptr);
  CHECK(s->view() == "hello");
  local<string_object> kept_s = scope.make<string_object>(value::reference(s));
  const std::uint64_t id = kept->id();
  // Unreferenced raw objects die; the kept ones move and keep their contents and ids.
  for (int i = 0; i < 1000; ++i) REQUIRE(c.h.new_byte_array_raw(40) != nullptr);
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::minor);  // promoted
  CHECK_FALSE(c.h.is_young(kept.get()));
  CHECK(kept->id() == id);
  CHECK(kept->length == 13);
  CHECK(kept->bytes()[12] == std::byte{7});
  CHECK(kept_s->view() == "hello");
  c.h.collect_garbage(gc_kind::major);
  CHECK(kept->bytes()[12] == std::byte{7});
  CHECK(c.findings.empty());
}

TEST_CASE("heap: raw allocation returns nullptr when the heap is exhausted", "[heap][allocate][limit]") {
  heap_options o = testing::small_options();
  o.max_old_space_bytes = 2 * mib;
  o.initial_old_space_limit_bytes = 1 * mib;
  testing::checked_heap c(o);
  handle_scope scope(c.h);
  CHECK(c.h.new_byte_array_raw(4 * mib) == nullptr);  // large object over the hard limit
  CHECK(c.h.new_byte_array_raw(64) != nullptr);
  CHECK(c.findings.empty());
}

}  // namespace nodus::runtime::heap
