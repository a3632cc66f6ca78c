#include "runtime/heap/compactor.hpp"

#include <catch2/catch.hpp>

#include "tests/runtime/heap/heap_test_util.hpp"

namespace nodus::runtime::heap {

namespace {
// Fills several old-space pages, then drops 9 objects of 10: sparse pages.
struct fragmented {
  testing::checked_heap c;
  handle_scope scope{c.h};
  local<array_object> survivors;
  std::vector<std::uint64_t> ids;
  std::vector<const heap_object*> addresses;

  explicit fragmented(double ratio) : c(options(ratio)) {
    survivors = c.h.new_array().value();
    {
      handle_scope inner(c.h);
      auto all = c.h.new_array().value();
      for (int i = 0; i < 12000; ++i) {
        auto s = c.h.new_string("payload " + std::to_string(i) + std::string(64, 'x')).value();
        REQUIRE(c.h.array_push(all, s.get()));
      }
      c.h.collect_garbage(gc_kind::major);  // everything old now
      for (std::uint32_t i = 0; i < c.h.array_length(all); i += 10) {
        REQUIRE(c.h.array_push(survivors, c.h.array_get(all, i)));
      }
    }
    for (std::uint32_t i = 0; i < c.h.array_length(survivors); ++i) {
      ids.push_back(c.h.array_get(survivors, i).as_object()->id());
      addresses.push_back(c.h.array_get(survivors, i).as_object());
    }
  }
  static heap_options options(double ratio) {
    heap_options o = testing::small_options();
    o.compaction_live_ratio = ratio;
    o.initial_old_space_limit_bytes = 64 * mib;  // no automatic major GC in the way
    return o;
  }
};
}  // namespace

TEST_CASE("compactor: sparse pages are evacuated and every reference is updated", "[heap][compactor]") {
  fragmented f(0.5);
  const std::size_t pages_before = f.c.h.old_space_page_count();
  REQUIRE(pages_before >= 4);
  f.c.h.collect_garbage(gc_kind::major);
  CHECK(f.c.h.old_space_page_count() < pages_before / 2);
  std::size_t moved = 0;
  for (std::uint32_t i = 0; i < f.c.h.array_length(f.survivors); ++i) {
    const value v = f.c.h.array_get(f.survivors, i);
    CHECK(v.as_object()->id() == f.ids[i]);  // ids are stable across moves
    CHECK(v.as<string_object>()->view().starts_with("payload " + std::to_string(i * 10)));
    moved += v.as_object() != f.addresses[i];
  }
  CHECK(moved > f.ids.size() / 2);
  CHECK(f.c.h.tracer().recent().back().objects_moved >= moved);
  CHECK(f.c.findings.empty());
}

TEST_CASE("compactor: with compaction disabled sparse pages stay and objects do not move", "[heap][compactor]") {
  fragmented f(0.0);
  const std::size_t pages_before = f.c.h.old_space_page_count();
  f.c.h.collect_garbage(gc_kind::major);
  CHECK(f.c.h.old_space_page_count() == pages_before);
  for (std::uint32_t i = 0; i < f.c.h.array_length(f.survivors); ++i) {
    CHECK(f.c.h.array_get(f.survivors, i).as_object() == f.addresses[i]);
  }
  // Freed memory is reused through the free lists instead.
  const std::size_t committed = f.c.h.statistics().total_heap_size;
  {
    handle_scope inner(f.c.h);
    auto a = f.c.h.new_array().value();
    for (int i = 0; i < 3000; ++i) REQUIRE(f.c.h.array_push(a, f.c.h.new_string(std::string(64, 'y')).value().get()));
    f.c.h.collect_garbage(gc_kind::minor);
    f.c.h.collect_garbage(gc_kind::minor);
  }
  CHECK(f.c.h.statistics().total_heap_size == committed);
  CHECK(f.c.findings.empty());
}

TEST_CASE("compactor: empty pages are released", "[heap][compactor]") {
  fragmented f(0.0);
  *f.survivors.slot() = value::undefined();
  f.c.h.collect_garbage(gc_kind::major);
  CHECK(f.c.h.old_space_page_count() == 0);
  CHECK(f.c.h.old_generation_used_bytes() == 0);
}

}  // namespace nodus::runtime::heap
