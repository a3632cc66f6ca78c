#include "server/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace nodus::server {

method_set::method_set(std::initializer_list<http::verb> verbs) noexcept {
  for (http::verb v : verbs) add(v);
}

method_set& method_set::add(http::verb v) noexcept {
  bits_ |= std::uint64_t{1} << bit(v);
  return *this;
}

std::string method_set::allow_header() const {
  std::string out;
  for (unsigned i = 1; i < 64; ++i) {
    if (((bits_ >> i) & 1u) == 0) continue;
    if (!out.empty()) out += ", ";
    out += http::to_string(static_cast<http::verb>(i));
  }
  return out;
}

const route* router::entry::find(http::verb v) const noexcept {
  for (const auto& [verb, r] : routes) {
    if (verb == v) return &r;
  }
  return nullptr;
}

void router::insert(entry& e, method_set methods, handler fn, route_options options) {
  if (methods.empty()) throw std::invalid_argument("router: empty method set");
  for (unsigned i = 1; i < 64; ++i) {
    const auto v = static_cast<http::verb>(i);
    if (!methods.contains(v)) continue;
    auto it = std::find_if(e.routes.begin(), e.routes.end(),
                           [v](const auto& r) { return r.first == v; });
    if (it == e.routes.end()) {
      e.routes.emplace_back(v, route{fn, options});
    } else if (v == http::verb::head && e.implicit_head) {
      it->second = route{fn, options};  // an explicit HEAD replaces the one derived from GET
      e.implicit_head = false;
    } else {
      throw std::invalid_argument("router: " + std::string(http::to_string(v)) +
                                  " registered twice");
    }
    e.methods.add(v);
  }
  // HEAD follows GET unless HEAD has a handler of its own.
  if (methods.contains(http::verb::get) && !e.methods.contains(http::verb::head)) {
    e.routes.emplace_back(http::verb::head, route{std::move(fn), options});
    e.methods.add(http::verb::head);
    e.implicit_head = true;
  }
  e.allow = e.methods.allow_header();
}

void router::add(std::string_view path, method_set methods, handler fn, route_options options) {
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("router: path must start with '/': " + std::string(path));
  }
  auto it = exact_.find(path);
  if (it == exact_.end()) {
    it = exact_.emplace(std::string(path), entry{}).first;
    it->second.id = route_count();
    patterns_.emplace_back(path);
  }
  insert(it->second, methods, std::move(fn), options);
}

void router::add_prefix(std::string_view prefix, method_set methods, handler fn,
                        route_options options) {
  if (prefix.empty() || prefix.front() != '/') {
    throw std::invalid_argument("router: prefix must start with '/': " + std::string(prefix));
  }
  auto it = std::find_if(prefixes_.begin(), prefixes_.end(),
                         [&](const auto& p) { return p.first == prefix; });
  if (it == prefixes_.end()) {
    prefixes_.emplace_back(std::string(prefix), entry{});
    it = std::prev(prefixes_.end());
    it->second.id = route_count();
    patterns_.emplace_back(prefix);
  }
  insert(it->second, methods, std::move(fn), options);
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

router::match_result router::match_entry(const entry& e, http::verb method) const noexcept {
  if (const route* r = e.find(method)) return {outcome::found, r, {}, e.id};
  return {outcome::method_not_allowed, nullptr, e.allow, e.id};
}

const std::string& router::pattern(route_id id) const noexcept {
  return id < patterns_.size() ? patterns_[id] : patterns_[unmatched_route];
}

router::match_result router::match(http::verb method, std::string_view path) const noexcept {
  if (auto it = exact_.find(path); it != exact_.end()) return match_entry(it->second, method);
  for (const auto& [prefix, e] : prefixes_) {
    if (path.starts_with(prefix)) return match_entry(e, method);
  }
  return {};
}

std::string_view target_path(std::string_view target) noexcept {
  if (!target.starts_with('/')) {
    // absolute-form (RFC 9112 §3.2.2): skip "scheme://authority".
    const auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return {};
    const auto path_start = target.find('/', scheme_end + 3);
    if (path_start == std::string_view::npos) return "/";
    target.remove_prefix(path_start);
  }
  return target.substr(0, target.find_first_of("?#"));
}

}  // namespace nodus::server
