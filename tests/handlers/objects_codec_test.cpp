// JSON ↔ managed heap: round trips, JavaScript number semantics, depth limits, GC safety,
// heap exhaustion.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "handlers/objects_codec.hpp"
#include "runtime/heap/heap.hpp"

namespace json = boost::json;
namespace rh = nodus::runtime::heap;
using nodus::handlers::max_json_depth;
using nodus::handlers::parse_to_heap;
using nodus::handlers::to_json;

namespace {

rh::heap_options small_heap() {
  rh::heap_options o;
  o.semi_space_bytes = 256 * 1024;
  o.max_semi_space_bytes = 256 * 1024;
  o.verify_heap = true;
  return o;
}

std::string round_trip(rh::heap& h, std::string_view text) {
  rh::handle_scope scope(h);
  auto root = parse_to_heap(h, text);
  REQUIRE(root.has_value());
  std::string out;
  REQUIRE(to_json(h, root->get(), out));
  return out;
}

std::string parse_error(std::string_view text) {
  rh::heap h(small_heap());
  rh::handle_scope scope(h);
  auto root = parse_to_heap(h, text);
  REQUIRE_FALSE(root.has_value());
  CHECK_FALSE(root.error().detail.empty());
  return root.error().error;
}

// JSON equality with numbers compared as doubles: the expected side is read by Boost.JSON
// 1.81, whose double conversion may differ from the correctly rounded value in the last ulp.
bool same_json(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.to_number<double>(), y = b.to_number<double>();
    return x == y || std::fabs(x - y) <= 1e-15 * std::fabs(y);
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &l = a.as_array(), &r = b.as_array();
    if (l.size() != r.size()) return false;
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (!same_json(l[i], r[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto &l = a.as_object(), &r = b.as_object();
    if (l.size() != r.size()) return false;
    for (auto i = l.begin(), j = r.begin(); i != l.end(); ++i, ++j) {
      if (i->key() != j->key() || !same_json(i->value(), j->value())) return false;
    }
    return true;
  }
  return a == b;
}

std::string nested(std::size_t depth) {
  std::string s(depth, '[');
  s.append(depth, ']');
  return s;
}

}  // namespace

TEST_CASE("documents round-trip with their order and values", "[objects_codec]") {
  rh::heap h(small_heap());
  CHECK(round_trip(h, R"({"b":1,"a":[true,false,null,"x\"y\n\u00e9"],"c":{},"d":[]})") ==
        R"({"b":1,"a":[true,false,null,"x\"y\né"],"c":{},"d":[]})");
  CHECK(round_trip(h, "\"plain\"") == "\"plain\"");
  CHECK(round_trip(h, "null") == "null");
  CHECK(round_trip(h, "[]") == "[]");
}

TEST_CASE("numbers follow JavaScript: doubles, exact integers up to 2^53", "[objects_codec]") {
  rh::heap h(small_heap());
  CHECK(round_trip(h, "[0,-1,2147483647,-2147483648,2147483648]") == "[0,-1,2147483647,-2147483648,2147483648]");
  CHECK(round_trip(h, "[1.5,-0.25,1e300,3000000000,9007199254740991]") ==
        "[1.5,-0.25,1e+300,3000000000,9007199254740991]");
  CHECK(round_trip(h, "[1.0,2e0]") == "[1,2]");  // JSON.stringify(1.0) is "1"
  CHECK(round_trip(h, "-0") == "0");             // JSON.stringify(-0) is "0"
  CHECK(round_trip(h, "1e999") == "null");       // Infinity stringifies as null
  // Beyond 2^53 a number is a double, as in JavaScript: value preserved, not the digits.
  const auto big = json::parse(round_trip(h, "18446744073709551615"));
  CHECK(big.as_double() == 18446744073709551615.0);
}

TEST_CASE("invalid documents are refused with a reason", "[objects_codec]") {
  for (std::string_view bad : {"", "{", "{\"a\":1,}", "[1 2]", "nul", "{\"a\":1} x", "// c\n1", "\"\xff\"", "[1,]"}) {
    CHECK(parse_error(bad) == "invalid_json");
  }
}

TEST_CASE("nesting is bounded: max depth parses, one more is too_deep, a million is too_deep", "[objects_codec]") {
  rh::heap h(small_heap());
  CHECK(round_trip(h, nested(max_json_depth)) == nested(max_json_depth));
  CHECK(parse_error(nested(max_json_depth + 1)) == "too_deep");
  CHECK(parse_error(std::string(1'000'000, '[')) == "too_deep");  // would overflow a recursive parser
  CHECK(parse_error(std::string(1'000'000, '{')) == "invalid_json");  // a key is expected
  // Nothing of a refused document stays reachable: a major GC leaves only the root's slot.
  rh::handle_scope scope(h);
  CHECK_FALSE(parse_to_heap(h, nested(max_json_depth) + "x").has_value());
  h.collect_garbage(rh::gc_kind::major);
  CHECK(h.object_stats()[rh::object_kind::array].count == 0);
}

TEST_CASE("documents survive the GCs their own construction triggers", "[objects_codec]") {
  // 256 KiB semi-spaces: building this document scavenges several times and promotes part of
  // it; the verifier runs after every GC.
  rh::heap h(small_heap());
  std::mt19937 rng(7);
  json::array items;
  for (int i = 0; i < 5000; ++i) {
    items.push_back(json::object{{"i", i},
                                 {"name", "item-" + std::to_string(rng())},
                                 {"tags", json::array{"a", "b", i % 3 == 0}},
                                 {"score", i / 7.0 + 0.5}});
  }
  const json::value doc = json::object{{"items", items}, {"n", 5000}};
  rh::handle_scope scope(h);
  auto root = parse_to_heap(h, json::serialize(doc));
  REQUIRE(root.has_value());
  CHECK(h.tracer().event_count() > 0);
  h.collect_garbage(rh::gc_kind::major);
  h.collect_garbage(rh::gc_kind::minor);
  std::string out;
  REQUIRE(to_json(h, root->get(), out));
  CHECK(same_json(json::parse(out), doc));
  CHECK(h.verify().empty());
}

TEST_CASE("a big flat object builds in linear time (no per-key lookup)", "[objects_codec]") {
  rh::heap h(small_heap());
  json::object o;
  for (int i = 0; i < 100'000; ++i) {
    std::string key = std::to_string(i);
    key.insert(key.begin(), 'k');
    o[key] = i;
  }
  rh::handle_scope scope(h);
  auto root = parse_to_heap(h, json::serialize(o));
  REQUIRE(root.has_value());
  CHECK(h.property_count(root->cast<rh::js_object>()) == 100'000);
  std::string out;
  REQUIRE(to_json(h, root->get(), out));
  CHECK(json::parse(out) == json::value(o));
}

TEST_CASE("heap exhaustion fails the conversion, never aborts", "[objects_codec]") {
  rh::heap_options o = small_heap();
  o.max_old_space_bytes = 2 * rh::mib;
  o.initial_old_space_limit_bytes = 1 * rh::mib;
  o.verify_heap = false;
  rh::heap h(o);
  json::array big;
  for (int i = 0; i < 200'000; ++i) big.push_back(json::string(40, 'x'));
  rh::handle_scope scope(h);
  auto root = parse_to_heap(h, json::serialize(big));
  REQUIRE_FALSE(root.has_value());
  CHECK(root.error().error == "heap_limit");
  // The heap still works for a small document afterwards.
  auto small = parse_to_heap(h, R"({"ok":true})");
  REQUIRE(small.has_value());
  CHECK(h.verify().empty());
}

TEST_CASE("to_json refuses values that are not JSON-shaped", "[objects_codec]") {
  rh::heap h(small_heap());
  rh::handle_scope scope(h);
  auto bytes = h.new_byte_array(8);
  REQUIRE(bytes.has_value());
  std::string out;
  CHECK_FALSE(to_json(h, bytes->get(), out));
  // A self-referencing array is not a tree: depth-limited, not a stack overflow.
  auto a = h.new_array();
  REQUIRE(a.has_value());
  REQUIRE(h.array_push(*a, a->get()).has_value());
  out.clear();
  CHECK_FALSE(to_json(h, a->get(), out));
}

TEST_CASE("duplicate keys keep their first position and their last value, as JSON.parse", "[objects_codec]") {
  rh::heap h(small_heap());
  CHECK(round_trip(h, R"({"a":1,"b":2,"a":3})") == R"({"a":3,"b":2})");
  // Past the small-object threshold the lookup goes through the key index.
  std::string big = "{";
  for (int i = 0; i < 40; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  big += R"("k3":"again","k39":{"x":[1]},"k0":null})";
  const auto out = json::parse(round_trip(h, big)).as_object();
  CHECK(out.size() == 40);
  CHECK(out.begin()->key() == "k0");
  CHECK(out.at("k0").is_null());
  CHECK(out.at("k3") == "again");
  CHECK(out.at("k39").at("x").at(0) == 1);
}

TEST_CASE("doubles are read correctly rounded and written back exactly", "[objects_codec]") {
  // Each of these 17-digit numbers is read one ulp off by Boost.JSON 1.81's own conversion;
  // JavaScript (and nodus) read the nearest double, so text → heap → text is the identity.
  rh::heap h(small_heap());
  for (std::string_view d : {"1.3927926388013963e-143", "1.7161392603081718e+277", "2.1829489720880483e+41",
                             "-2.0516627292152302e-283", "0.1", "0.30000000000000004", "5e-324",
                             "1.7976931348623157e+308"}) {
    CHECK(round_trip(h, d) == d);
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    double d;
    const std::uint64_t bits = rng();
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d) || d == std::trunc(d)) continue;
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    const std::string text(buf, r.ptr);
    REQUIRE(round_trip(h, text) == text);
  }
}

TEST_CASE("strings with escapes and long keys are read whole", "[objects_codec]") {
  rh::heap h(small_heap());
  const std::string long_text(100'000, 'z');
  const std::string doc = R"({"\u0041\n\t":"\ud83d\ude00 \"q\"","k":")" + long_text + R"("})";
  const auto out = json::parse(round_trip(h, doc));
  CHECK(out.at("A\n\t") == "\xF0\x9F\x98\x80 \"q\"");
  CHECK(out.at("k").as_string().size() == long_text.size());
}
