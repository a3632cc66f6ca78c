#pragma once
// The value of the Date header (RFC 9110 IMF-fixdate), formatted at most once per second.
// One per loop: not thread-safe.
#include <ctime>
#include <string_view>

namespace nodus::server {

class date_cache {
 public:
  // The date for `now` (seconds since the epoch); reformats only when the second changed.
  std::string_view get(std::time_t now) noexcept;
  std::string_view get() noexcept { return get(std::time(nullptr)); }

 private:
  std::time_t second_ = -1;
  char text_[32] = {};
  std::size_t size_ = 0;
};

}  // namespace nodus::server
