#include "server/files/conditional.hpp"

#include <cstdio>
#include <cstring>

namespace nodus::server::files {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view opaque(std::string_view tag) noexcept {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

std::optional<std::time_t> parse_with(std::string_view s, const char* format) {
  const std::string text(s);
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), format, &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return ::timegm(&tm);
}

}  // namespace

std::string make_etag(const struct stat& st) {
  const auto mtime_ns = static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
                        static_cast<unsigned long long>(st.st_mtim.tv_nsec);
  char buf[80];
  std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                mtime_ns, static_cast<unsigned long long>(st.st_ino));
  return buf;
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 64) return std::nullopt;
  // strptime's %a/%b are locale-dependent; nodus never calls setlocale, so they are "C".
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %e %H:%M:%S %Y"}) {
    if (auto t = parse_with(s, format)) return t;
  }
  return std::nullopt;
}

bool none_match_hits(std::string_view list, std::string_view etag) {
  list = trim(list);
  if (list == "*") return true;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto tag = trim(list.substr(0, comma));
    if (!tag.empty() && opaque(tag) == opaque(etag)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool not_modified(const request_conditions& c, std::string_view etag, std::time_t mtime) {
  if (!c.if_none_match.empty()) return none_match_hits(c.if_none_match, etag);
  if (!c.if_modified_since.empty()) {
    const auto since = parse_http_date(c.if_modified_since);
    return since && mtime <= *since;
  }
  return false;
}

bool if_range_allows(std::string_view if_range, std::string_view etag, std::time_t mtime) {
  if_range = trim(if_range);
  if (if_range.empty()) return true;
  if (if_range.front() == '"' || if_range.rfind("W/", 0) == 0) {
    return if_range.front() == '"' && if_range == etag;
  }
  const auto date = parse_http_date(if_range);
  return date && *date == mtime;
}

}  // namespace nodus::server::files
