#include "server/files/range.hpp"

#include <catch2/catch.hpp>

using nodus::server::files::parse_range;
using nodus::server::files::range_kind;

TEST_CASE("single ranges of every form", "[files][range]") {
  auto r = parse_range("bytes=0-4", 10);
  REQUIRE(r.kind == range_kind::single);
  CHECK(r.range.first == 0);
  CHECK(r.range.last == 4);
  r = parse_range("bytes=5-", 10);
  REQUIRE(r.kind == range_kind::single);
  CHECK(r.range.first == 5);
  CHECK(r.range.last == 9);
  r = parse_range("bytes=-3", 10);
  REQUIRE(r.kind == range_kind::single);
  CHECK(r.range.first == 7);
  CHECK(r.range.length() == 3);
  r = parse_range("bytes=-30", 10);  // suffix longer than the file: the whole file
  REQUIRE(r.kind == range_kind::single);
  CHECK(r.range.first == 0);
  CHECK(r.range.last == 9);
  r = parse_range("bytes=8-100", 10);  // last clamped
  REQUIRE(r.kind == range_kind::single);
  CHECK(r.range.last == 9);
  r = parse_range("Bytes = 2-2 ", 10);
  REQUIRE(r.kind == range_kind::single);
  CHECK(r.range.length() == 1);
}

TEST_CASE("unsatisfiable ranges", "[files][range]") {
  CHECK(parse_range("bytes=10-", 10).kind == range_kind::unsatisfiable);
  CHECK(parse_range("bytes=10-20", 10).kind == range_kind::unsatisfiable);
  CHECK(parse_range("bytes=-0", 10).kind == range_kind::unsatisfiable);
  CHECK(parse_range("bytes=0-", 0).kind == range_kind::unsatisfiable);
  CHECK(parse_range("bytes=-5", 0).kind == range_kind::unsatisfiable);
}

TEST_CASE("malformed or foreign Range headers are ignored", "[files][range]") {
  for (const char* h : {"", "bytes", "bytes=", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=1",
                        "bytes=--1", "bytes=0-1-2", "bytes=18446744073709551616-",
                        "bytes=0x1-2"}) {
    INFO(h);
    CHECK(parse_range(h, 100).kind == range_kind::none);
  }
}

TEST_CASE("several satisfiable ranges are reported as multiple", "[files][range]") {
  CHECK(parse_range("bytes=0-1,4-5", 10).kind == range_kind::multiple);
  auto r = parse_range("bytes=0-1, 50-60", 10);  // only one satisfiable
  REQUIRE(r.kind == range_kind::single);
  CHECK(r.range.last == 1);
  std::string many = "bytes=0-0";
  for (int i = 0; i < 100; ++i) many += ",0-0";
  CHECK(parse_range(many, 10).kind == range_kind::none);
}
