#include "server/access_log.hpp"

#include <spdlog/fmt/fmt.h>

namespace nodus::server {

std::string format_access_line(const access_entry& e, std::time_t now) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[32];
  const std::size_t n = std::strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  const double ms = std::chrono::duration<double, std::milli>(e.duration).count();
  // The target is quoted as received; Beast's parser has already rejected control bytes.
  return fmt::format("{}:{} - - [{}] \"{} {} HTTP/{}.{}\" {} {} {:.3f}ms",
                     e.remote.address().to_string(), e.remote.port(), std::string_view(when, n),
                     e.method, e.target, e.version / 10, e.version % 10, e.status, e.body_bytes,
                     ms);
}

}  // namespace nodus::server
