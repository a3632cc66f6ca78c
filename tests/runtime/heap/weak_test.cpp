// WeakRef (kept objects), WeakMap (see marker_test for ephemerons), FinalizationRegistry.
#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("WeakRef: the target is kept until the end of the callback, then cleared by a major GC", "[heap][weak]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  local<weak_ref_object> ref;
  std::uint64_t target_id = 0;
  {
    escapable_handle_scope inner(c.h);
    auto target = c.h.new_object().value();
    target_id = target->id();
    ref = inner.escape(c.h.new_weak_ref(target.get()).value());
  }
  c.h.collect_garbage(gc_kind::major);  // still inside the "callback": kept
  REQUIRE(c.h.weak_ref_deref(ref).is_reference());
  CHECK(c.h.weak_ref_deref(ref).as_object()->id() == target_id);
  c.h.clear_kept_objects();  // end of callback
  c.h.collect_garbage(gc_kind::minor);  // minor GCs never clear weak references
  CHECK(c.h.weak_ref_deref(ref).is_reference());
  c.h.clear_kept_objects();  // the deref above kept it again
  c.h.collect_garbage(gc_kind::major);
  CHECK(c.h.weak_ref_deref(ref).is_undefined());
  CHECK(c.h.find_object(target_id) == nullptr);
  CHECK(c.h.tracer().recent().back().weak_refs_cleared == 1);
}

TEST_CASE("WeakRef: a strongly reachable target is never cleared", "[heap][weak]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto target = c.h.new_string("strong").value();
  auto ref = c.h.new_weak_ref(target.get()).value();
  c.h.clear_kept_objects();
  c.h.collect_garbage(gc_kind::major);
  c.h.collect_garbage(gc_kind::major);
  CHECK(c.h.weak_ref_deref(ref) == target.get());
  CHECK(c.h.new_weak_ref(value::integer(3)).error() == heap_errc::invalid_argument);
}

TEST_CASE("FinalizationRegistry: callbacks run later as tasks, once per collected target", "[heap][weak][finalization]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  std::vector<std::string> held_seen;
  bool in_gc = false;
  c.h.set_gc_observer([&](const gc_event&) { in_gc = false; });
  auto registry = c.h.new_finalization_registry([&](heap&, local<> held) {
    CHECK_FALSE(in_gc);
    held_seen.emplace_back(held->kind() == object_kind::string ? std::string(held.cast<string_object>()->view()) : "?");
  }).value();
  auto survivor = c.h.new_object().value();
  {
    handle_scope inner(c.h);
    for (int i = 0; i < 3; ++i) {
      auto target = c.h.new_object().value();
      REQUIRE(c.h.finalization_register(registry, target.get(), c.h.new_string("held " + std::to_string(i)).value().get()));
    }
    REQUIRE(c.h.finalization_register(registry, survivor.get(), c.h.new_string("never").value().get()));
  }
  c.h.collect_garbage(gc_kind::major);
  CHECK(held_seen.empty());  // not inside the GC
  CHECK(c.h.pending_finalization_count() == 3);
  REQUIRE(c.tasks.tasks.size() == 1);
  c.tasks.run_all();
  std::sort(held_seen.begin(), held_seen.end());
  CHECK(held_seen == std::vector<std::string>{"held 0", "held 1", "held 2"});
  c.h.collect_garbage(gc_kind::major);
  c.tasks.run_all();
  CHECK(held_seen.size() == 3);  // exactly once
  CHECK(c.h.pending_finalization_count() == 0);
}

TEST_CASE("FinalizationRegistry: unregister with the token cancels the callback", "[heap][weak][finalization]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  int calls = 0;
  auto registry = c.h.new_finalization_registry([&](heap&, local<>) { ++calls; }).value();
  auto token = c.h.new_object().value();
  {
    handle_scope inner(c.h);
    auto target = c.h.new_object().value();
    REQUIRE(c.h.finalization_register(registry, target.get(), value::integer(1), token.get()));
  }
  CHECK(c.h.finalization_unregister(registry, token.get()));
  CHECK_FALSE(c.h.finalization_unregister(registry, token.get()));
  c.h.collect_garbage(gc_kind::major);
  c.tasks.run_all();
  CHECK(calls == 0);
}

TEST_CASE("FinalizationRegistry: a collected registry never calls back", "[heap][weak][finalization]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  int calls = 0;
  {
    handle_scope inner(c.h);
    auto registry = c.h.new_finalization_registry([&](heap&, local<>) { ++calls; }).value();
    auto target = c.h.new_object().value();
    REQUIRE(c.h.finalization_register(registry, target.get(), value::integer(1)));
  }
  c.h.collect_garbage(gc_kind::major);
  c.tasks.run_all();
  CHECK(calls == 0);
  CHECK(c.h.finalization_register(c.h.new_finalization_registry({}).value(), value::integer(1), value::null()).error() ==
        heap_errc::invalid_argument);
}

TEST_CASE("FinalizationRegistry: the cleanup task is harmless after the heap is gone", "[heap][weak][finalization]") {
  testing::task_queue tasks;
  {
    heap h(testing::small_options(), tasks.scheduler());
    handle_scope scope(h);
    auto registry = h.new_finalization_registry([](heap&, local<>) { FAIL("called after destruction"); }).value();
    {
      handle_scope inner(h);
      REQUIRE(h.finalization_register(registry, h.new_object().value().get(), value::integer(1)));
    }
    h.collect_garbage(gc_kind::major);
    REQUIRE(tasks.tasks.size() == 1);
  }
  CHECK(tasks.run_all() == 1);
}

}  // namespace nodus::runtime::heap
