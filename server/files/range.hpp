#pragma once
// Range requests (RFC 9110 §14): "bytes=a-b", "bytes=a-", "bytes=-n", lists of them.
#include <cstdint>
#include <string_view>

namespace nodus::server::files {

struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const noexcept { return last - first + 1; }
};

enum class range_kind {
  none,           // no usable Range header (absent, other unit, malformed): send 200 full
  single,         // one satisfiable range: 206 with Content-Range
  multiple,       // several satisfiable ranges: nodus sends 200 full (as nginx, max_ranges 1)
  unsatisfiable,  // none satisfiable: 416 with "Content-Range: bytes */size"
};

struct range_request {
  range_kind kind = range_kind::none;
  byte_range range{};  // valid for single
};

// More ranges than this in one header are treated as malformed (ignored).
inline constexpr std::size_t max_range_specs = 64;

range_request parse_range(std::string_view header, std::uint64_t size) noexcept;

}  // namespace nodus::server::files
