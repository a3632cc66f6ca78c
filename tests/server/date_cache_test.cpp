#include "server/date_cache.hpp"

#include <catch2/catch.hpp>

#include <string>

using nodus::server::date_cache;

TEST_CASE("date_cache formats IMF-fixdate and reformats only when the second changes",
          "[server][date]") {
  date_cache dates;
  const std::time_t t = 1784884723;  // Fri, 24 Jul 2026 09:18:43 UTC
  const std::string first(dates.get(t));
  CHECK(first == "Fri, 24 Jul 2026 09:18:43 GMT");
  const char* storage = dates.get(t).data();
  CHECK(dates.get(t).data() == storage);  // same second: same text, no work
  CHECK(dates.get(t + 1) == "Fri, 24 Jul 2026 09:18:44 GMT");
  CHECK(dates.get(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
}
