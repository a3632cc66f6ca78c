#include "runtime/heap/value.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

TEST_CASE("value: primitives round-trip and are never references", "[heap][value]") {
  CHECK(value().is_undefined());
  CHECK(value::null().is_null());
  CHECK(value::boolean(true).as_boolean());
  CHECK_FALSE(value::boolean(false).as_boolean());
  CHECK(value::boolean(false).is_boolean());
  for (std::int32_t i : {0, 1, -1, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()}) {
    const value v = value::integer(i);
    CHECK(v.is_integer());
    CHECK(v.is_number());
    CHECK_FALSE(v.is_reference());
    CHECK(v.as_integer() == i);
  }
  for (double d : {0.0, -0.0, 1.5, -1e308, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::denorm_min()}) {
    const value v = value::number(d);
    CHECK(v.is_double());
    CHECK_FALSE(v.is_integer());
    CHECK_FALSE(v.is_reference());
    CHECK(std::bit_cast<std::uint64_t>(v.as_double()) == std::bit_cast<std::uint64_t>(d));
  }
}

TEST_CASE("value: every NaN is canonicalised and stays a number", "[heap][value]") {
  const double nans[] = {std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::quiet_NaN(),
                         std::bit_cast<double>(0xffff'ffff'ffff'ffffULL), std::bit_cast<double>(0xfff0'0000'0000'0001ULL)};
  for (double d : nans) {
    const value v = value::number(d);
    CHECK(v.is_double());
    CHECK_FALSE(v.is_reference());
    CHECK(std::isnan(v.as_double()));
  }
}

TEST_CASE("value: references keep the address, internal markers are not references", "[heap][value]") {
  alignas(16) heap_object object{};
  const value v = value::reference(&object);
  CHECK(v.is_reference());
  CHECK_FALSE(v.is_number());
  CHECK(v.as_object() == &object);
  CHECK_FALSE(value::hole().is_reference());
  CHECK_FALSE(value::deleted().is_reference());
  CHECK(value::hole().is_hole());
  CHECK(value::deleted().is_deleted());
  CHECK_FALSE(value::undefined().is_reference());
  CHECK_FALSE(value::null().is_reference());
}

}  // namespace nodus::runtime::heap
