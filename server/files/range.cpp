#include "server/files/range.hpp"

#include <charconv>
#include <optional>

namespace nodus::server::files {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> number(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

}  // namespace

range_request parse_range(std::string_view header, std::uint64_t size) noexcept {
  header = trim(header);
  const auto eq = header.find('=');
  if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) return {};
  std::string_view specs = header.substr(eq + 1);

  std::size_t count = 0;
  std::size_t specified = 0;
  std::size_t satisfiable = 0;
  byte_range chosen{};
  while (true) {
    const auto comma = specs.find(',');
    const std::string_view spec = trim(specs.substr(0, comma));
    if (++count > max_range_specs) return {};
    if (!spec.empty()) {  // RFC 9110 allows empty list elements
      ++specified;
      const auto dash = spec.find('-');
      if (dash == std::string_view::npos) return {};
      const auto first_text = trim(spec.substr(0, dash));
      const auto last_text = trim(spec.substr(dash + 1));
      std::optional<byte_range> r;
      if (first_text.empty()) {  // suffix: the last n bytes
        const auto n = number(last_text);
        if (!n) return {};
        if (*n > 0 && size > 0) r = byte_range{*n >= size ? 0 : size - *n, size - 1};
      } else {
        const auto first = number(first_text);
        if (!first) return {};
        std::optional<std::uint64_t> last;
        if (!last_text.empty()) {
          last = number(last_text);
          if (!last || *last < *first) return {};
        }
        if (*first < size) r = byte_range{*first, last && *last < size ? *last : size - 1};
      }
      if (r) {
        if (satisfiable == 0) chosen = *r;
        ++satisfiable;
      }
    }
    if (comma == std::string_view::npos) break;
    specs.remove_prefix(comma + 1);
  }
  if (specified == 0) return {};
  if (satisfiable == 0) return {range_kind::unsatisfiable, {}};
  if (satisfiable > 1) return {range_kind::multiple, {}};
  return {range_kind::single, chosen};
}

}  // namespace nodus::server::files
