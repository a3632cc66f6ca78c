#pragma once
// router: maps (method, path) to a handler. Exact routes win over prefix routes; among
// prefix routes the longest prefix wins. HEAD is allowed wherever GET is (the session drops
// the body). Built at start-up, then read-only: shared by every loop without locking.
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/handler.hpp"

namespace nodus::server {

// A set of HTTP methods (bit per boost::beast::http::verb).
class method_set {
 public:
  constexpr method_set() = default;
  method_set(std::initializer_list<http::verb> verbs) noexcept;
  bool contains(http::verb v) const noexcept { return (bits_ >> bit(v)) & 1u; }
  method_set& add(http::verb v) noexcept;
  bool empty() const noexcept { return bits_ == 0; }
  // "GET, HEAD, POST": the value of an Allow header, in verb order.
  std::string allow_header() const;

 private:
  static unsigned bit(http::verb v) noexcept { return static_cast<unsigned>(v) & 63u; }
  std::uint64_t bits_ = 0;
};

struct route {
  handler fn;
  route_options options;
};

// Names a registered path or prefix for per-route statistics (http_requests_total{route}):
// ids are dense, assigned in registration order from 1; 0 is every request no route matched.
using route_id = std::uint32_t;
inline constexpr route_id unmatched_route = 0;

class router {
 public:
  enum class outcome { found, not_found, method_not_allowed };

  struct match_result {
    outcome result = outcome::not_found;
    const route* target = nullptr;  // set when found
    std::string_view allow;         // the path's Allow value when method_not_allowed
    route_id id = unmatched_route;  // the matched path or prefix (found, method_not_allowed)
  };

  // Registers `fn` for every method in `methods` on the exact path `path` ("/health").
  // Throws std::invalid_argument on an empty method set, a path not starting with '/', or a
  // method already registered for that path (start-up only).
  void add(std::string_view path, method_set methods, handler fn, route_options options = {});
  // Same, for every path starting with `prefix` ("/files/").
  void add_prefix(std::string_view prefix, method_set methods, handler fn,
                  route_options options = {});

  // `path` is the target without its query. Never allocates.
  match_result match(http::verb method, std::string_view path) const noexcept;

  // Ids 0 .. route_count() - 1 (0 included: unmatched_route).
  route_id route_count() const noexcept { return static_cast<route_id>(patterns_.size()); }
  // The path or prefix as registered ("/hello", "/files/"); "(unmatched)" for id 0, and for
  // an id out of range.
  const std::string& pattern(route_id id) const noexcept;

 private:
  struct entry {
    route_id id = unmatched_route;
    std::vector<std::pair<http::verb, route>> routes;
    method_set methods;
    std::string allow;
    bool implicit_head = false;  // HEAD derived from GET
    const route* find(http::verb v) const noexcept;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  static void insert(entry& e, method_set methods, handler fn, route_options options);
  match_result match_entry(const entry& e, http::verb method) const noexcept;

  std::unordered_map<std::string, entry, string_hash, std::equal_to<>> exact_;
  std::vector<std::pair<std::string, entry>> prefixes_;  // longest first
  std::vector<std::string> patterns_{"(unmatched)"};     // by route_id
};

// The path part of a request target: "/a/b?x=1" → "/a/b"; absolute-form
// "http://host/a?x" → "/a". Empty when the target has no path ("*", garbage).
std::string_view target_path(std::string_view target) noexcept;

}  // namespace nodus::server
