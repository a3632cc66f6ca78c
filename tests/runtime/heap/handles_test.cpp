#include "runtime/heap/handles.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

TEST_CASE("handles: a scope releases its locals, the objects become garbage", "[heap][handles]") {
  testing::checked_heap c;
  handle_scope outer(c.h);
  auto kept = c.h.new_string("kept").value();
  const std::uint64_t kept_id = kept->id();
  std::uint64_t dropped_id = 0;
  {
    handle_scope inner(c.h);
    auto dropped = c.h.new_string("dropped").value();
    dropped_id = dropped->id();
    CHECK(c.h.handles().size() == 2);
  }
  CHECK(c.h.handles().size() == 1);
  c.h.collect_garbage(gc_kind::minor);
  CHECK(c.h.find_object(kept_id) != nullptr);
  CHECK(c.h.find_object(dropped_id) == nullptr);
  CHECK(kept->view() == "kept");
}

TEST_CASE("handles: locals follow their object across moving GCs", "[heap][handles]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  auto s = c.h.new_string("moving").value();
  const std::uint64_t id = s->id();
  const heap_object* before = s.raw();
  c.h.collect_garbage(gc_kind::minor);
  CHECK(s.raw() != before);  // copied within new space
  CHECK(s->id() == id);
  CHECK(s->view() == "moving");
  c.h.collect_garbage(gc_kind::minor);  // promoted
  CHECK_FALSE(c.h.is_young(s.get()));
  CHECK(s->id() == id);
  CHECK(s->view() == "moving");
}

TEST_CASE("handles: many locals span several blocks and all stay roots", "[heap][handles]") {
  testing::checked_heap c;
  handle_scope scope(c.h);
  std::vector<local<string_object>> locals;
  for (int i = 0; i < 3000; ++i) locals.push_back(c.h.new_string(std::to_string(i)).value());
  c.h.collect_garbage(gc_kind::major);
  for (int i = 0; i < 3000; ++i) CHECK(locals[static_cast<std::size_t>(i)]->view() == std::to_string(i));
  CHECK(c.findings.empty());
}

TEST_CASE("handles: escapable scope passes one local to the parent", "[heap][handles]") {
  testing::checked_heap c;
  handle_scope outer(c.h);
  local<string_object> escaped;
  {
    escapable_handle_scope inner(c.h);
    auto s = c.h.new_string("out").value();
    REQUIRE(c.h.new_string("garbage"));
    escaped = inner.escape(s);
  }
  c.h.collect_garbage(gc_kind::major);
  CHECK(escaped->view() == "out");
  CHECK(c.h.object_stats()[object_kind::string].count == 1);
}

TEST_CASE("handles: persistents are roots until reset", "[heap][handles]") {
  testing::checked_heap c;
  persistent<string_object> p;
  std::uint64_t id = 0;
  {
    handle_scope scope(c.h);
    auto s = c.h.new_string("global").value();
    id = s->id();
    p = persistent<string_object>(c.h, s.get());
  }
  c.h.collect_garbage(gc_kind::minor);
  c.h.collect_garbage(gc_kind::major);
  CHECK(p->view() == "global");
  CHECK(c.h.persistents().size() == 1);
  p.reset();
  CHECK(c.h.persistents().size() == 0);
  c.h.collect_garbage(gc_kind::major);
  CHECK(c.h.find_object(id) == nullptr);
}

}  // namespace nodus::runtime::heap
