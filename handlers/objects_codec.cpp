#include "handlers/objects_codec.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <unordered_map>
#include <vector>

#include "runtime/heap/heap.hpp"

namespace nodus::handlers {

namespace json = boost::json;
namespace rh = runtime::heap;
using rh::heap_errc;
using rh::local;
using rh::value;
using error_code = boost::system::error_code;

namespace {

value number_value(double d) noexcept {
  // Small integers as V8's Smis; every other number as a double (JavaScript has no int64).
  if (d >= std::numeric_limits<std::int32_t>::min() && d <= std::numeric_limits<std::int32_t>::max() &&
      d == std::trunc(d) && !(d == 0 && std::signbit(d))) {
    return value::integer(static_cast<std::int32_t>(d));
  }
  return value::number(d);
}

// basic_parser's handler: builds the document on the heap as the parser reads it. Each
// container is attached to its parent (or becomes the root) as soon as it opens, so a frame
// needs one handle scope holding one local, and the handles in use are bounded by the depth.
class heap_builder {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  heap_builder(rh::heap& h, local<> root) : heap_(h), root_(root) {}
  heap_builder(const heap_builder&) = delete;
  heap_builder& operator=(const heap_builder&) = delete;
  ~heap_builder() {
    while (!frames_.empty()) close();  // scopes nest: close innermost first
  }

  bool out_of_memory() const noexcept { return out_of_memory_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code& ec) { return open(false, ec); }
  bool on_array_end(std::size_t, error_code&) { return close(); }
  bool on_object_begin(error_code& ec) { return open(true, ec); }
  bool on_object_end(std::size_t, error_code&) { return close(); }
  bool on_string_part(std::string_view s, std::size_t, error_code&) { return append(text_, s); }
  bool on_string(std::string_view s, std::size_t, error_code& ec) {
    const std::string_view whole = complete(text_, s);
    rh::handle_scope scope(heap_);
    auto str = heap_.new_string(whole);
    text_.clear();
    if (!str) return fail(ec);
    return attach(str->get(), ec);
  }
  bool on_key_part(std::string_view s, std::size_t, error_code&) { return append(key_, s); }
  bool on_key(std::string_view s, std::size_t, error_code&) { return append(key_, s); }
  bool on_number_part(std::string_view s, error_code&) { return append(number_, s); }
  bool on_int64(std::int64_t i, std::string_view, error_code& ec) { return number(static_cast<double>(i), ec); }
  bool on_uint64(std::uint64_t u, std::string_view, error_code& ec) { return number(static_cast<double>(u), ec); }
  bool on_double(double d, std::string_view s, error_code& ec) {
    // Boost.JSON 1.81 may round the last digit of a double differently; JavaScript reads
    // the correctly rounded value, which from_chars gives. Out of range keeps the parser's ±inf/0.
    const std::string_view text = complete(number_, s);
    double exact = d;
    std::from_chars(text.data(), text.data() + text.size(), exact);
    return number(exact, ec);
  }
  bool on_bool(bool b, error_code& ec) { return attach(value::boolean(b), ec); }
  bool on_null(error_code& ec) { return attach(value::null(), ec); }
  bool on_comment_part(std::string_view, error_code&) { return true; }
  bool on_comment(std::string_view, error_code&) { return true; }

 private:
  struct frame {
    local<> container;
    bool is_object;
    // Objects past small_object keys: key → insertion position, so duplicate keys cost O(1).
    std::unique_ptr<std::unordered_map<std::string, std::uint32_t>> index;
  };
  static constexpr std::uint32_t small_object = 16;

  static bool append(std::string& buffer, std::string_view part) {
    buffer.append(part);
    return true;
  }
  // The whole token: `last` alone, or the parts buffered before it plus `last`.
  static std::string_view complete(std::string& buffer, std::string_view last) {
    if (buffer.empty()) return last;
    buffer.append(last);
    return buffer;
  }

  bool fail(error_code& ec) {
    out_of_memory_ = true;
    ec = make_error_code(heap_errc::out_of_memory);
    return false;
  }

  bool number(double d, error_code& ec) {
    number_.clear();
    return attach(number_value(d), ec);
  }

  bool open(bool is_object, error_code& ec) {
    auto scope = std::make_unique<rh::handle_scope>(heap_);
    local<> container;
    if (is_object) {
      auto o = heap_.new_object();
      if (!o) return fail(ec);
      container = *o;
    } else {
      auto a = heap_.new_array();
      if (!a) return fail(ec);
      container = *a;
    }
    if (!attach(container.get(), ec)) return false;
    frames_.push_back(frame{container, is_object, nullptr});
    scopes_.push_back(std::move(scope));
    return true;
  }

  bool close() {
    frames_.pop_back();
    scopes_.pop_back();
    return true;
  }

  // Stores `v` into the open container (under the pending key for an object), or as the root.
  bool attach(value v, error_code& ec) {
    if (frames_.empty()) {
      *root_.slot() = v;
      return true;
    }
    rh::handle_scope scope(heap_);
    const local<> held = scope.make(v);  // the key's allocation below may move v
    frame& f = frames_.back();
    if (!f.is_object) {
      if (!heap_.array_push(f.container.cast<rh::array_object>(), held.get())) return fail(ec);
      return true;
    }
    const auto o = f.container.cast<rh::js_object>();
    const std::uint32_t count = heap_.property_count(o);
    bool ok = true;
    if (f.index == nullptr && count < small_object) {
      ok = heap_.set_property(o, key_, held.get()).has_value();  // linear lookup: few keys
    } else {
      if (f.index == nullptr) index_keys(f);
      const auto [it, added] = f.index->try_emplace(key_, count);
      if (!added) {
        heap_.set_property_value(o, it->second, held.get());
      } else {
        auto key = heap_.new_string(key_);
        ok = key && heap_.add_property(o, *key, held.get()).has_value();
      }
    }
    key_.clear();
    return ok || fail(ec);
  }

  void index_keys(frame& f) {
    f.index = std::make_unique<std::unordered_map<std::string, std::uint32_t>>();
    std::uint32_t i = 0;
    heap_.for_each_property(f.container.cast<rh::js_object>(), [&](std::string_view key, value, value) {
      f.index->emplace(std::string(key), i++);
    });
  }

  rh::heap& heap_;
  local<> root_;
  std::vector<frame> frames_;
  std::vector<std::unique_ptr<rh::handle_scope>> scopes_;
  std::string text_;
  std::string key_;
  std::string number_;
  bool out_of_memory_ = false;
};

void append_number(value v, std::string& out) {
  char buf[32];
  if (v.is_integer()) {
    const auto r = std::to_chars(buf, buf + sizeof buf, v.as_integer());
    out.append(buf, r.ptr);
    return;
  }
  const double d = v.as_double();
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  constexpr double exact_integers = 9007199254740992.0;  // 2^53
  const auto r = (d == std::trunc(d) && std::fabs(d) < exact_integers)
                     ? std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(d))
                     : std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

bool write(const rh::heap& h, value v, std::string& out, std::size_t depth) {
  if (v.is_number()) {
    append_number(v, out);
    return true;
  }
  if (v.is_boolean()) {
    out += v.as_boolean() ? "true" : "false";
    return true;
  }
  if (!v.is_reference()) {
    out += "null";  // null; undefined (an array hole) prints as null, as JSON.stringify does
    return true;
  }
  if (depth > max_json_depth) return false;
  const rh::heap_object* object = v.as_object();
  switch (object->kind()) {
    case rh::object_kind::string:
      out += json::serialize(v.as<rh::string_object>()->view());
      return true;
    case rh::object_kind::array: {
      const auto* a = v.as<rh::array_object>();
      out += '[';
      for (std::uint32_t i = 0; i < a->length; ++i) {
        if (i > 0) out += ',';
        if (!write(h, a->elements.as<rh::fixed_array_object>()->slots()[i], out, depth + 1)) return false;
      }
      out += ']';
      return true;
    }
    case rh::object_kind::object: {
      const auto* o = v.as<rh::js_object>();
      out += '{';
      const value* slots = o->properties.is_reference() ? o->properties.as<rh::fixed_array_object>()->slots() : nullptr;
      for (std::uint32_t i = 0; i < o->property_count; ++i) {
        if (i > 0) out += ',';
        out += json::serialize(slots[2 * i].as<rh::string_object>()->view());
        out += ':';
        if (!write(h, slots[2 * i + 1], out, depth + 1)) return false;
      }
      out += '}';
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

boost::system::result<local<>, json_parse_error> parse_to_heap(rh::heap& h, std::string_view text) {
  rh::escapable_handle_scope scope(h);
  const local<> root = scope.make(value::undefined());
  json::parse_options options;
  options.max_depth = max_json_depth;
  error_code ec;
  std::size_t consumed = 0;
  bool out_of_memory = false;
  {
    json::basic_parser<heap_builder> parser(options, h, root);
    consumed = parser.write_some(false, text.data(), text.size(), ec);
    out_of_memory = parser.handler().out_of_memory();
  }
  if (out_of_memory) {
    return json_parse_error{"heap_limit", "the heap cannot hold the document"};
  }
  if (ec == json::error::too_deep) {
    return json_parse_error{"too_deep", "the document nests deeper than " + std::to_string(max_json_depth) + " levels"};
  }
  if (!ec && text.substr(consumed).find_first_not_of(" \t\r\n") != std::string_view::npos) {
    ec = json::error::extra_data;  // write_some stops after one complete document
  }
  if (ec) {
    return json_parse_error{"invalid_json", "invalid JSON at byte " + std::to_string(consumed) + ": " + ec.message()};
  }
  return scope.escape(root);
}

bool to_json(const rh::heap& h, value v, std::string& out) { return write(h, v, out, 0); }

}  // namespace nodus::handlers
