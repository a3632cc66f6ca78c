#include "server/date_cache.hpp"

namespace nodus::server {

std::string_view date_cache::get(std::time_t now) noexcept {
  if (now != second_) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    size_ = std::strftime(text_, sizeof text_, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    second_ = now;
  }
  return {text_, size_};
}

}  // namespace nodus::server
