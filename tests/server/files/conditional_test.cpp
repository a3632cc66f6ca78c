#include "server/files/conditional.hpp"

#include <catch2/catch.hpp>

namespace files = nodus::server::files;

TEST_CASE("http dates round-trip in all three formats", "[files][conditional]") {
  CHECK(files::http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(files::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(files::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
  CHECK(files::parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
  CHECK_FALSE(files::parse_http_date("yesterday"));
  CHECK_FALSE(files::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
  CHECK_FALSE(files::parse_http_date(""));
}

TEST_CASE("etags are strong and change with the file", "[files][conditional]") {
  struct stat a{};
  a.st_size = 10;
  a.st_mtim.tv_sec = 100;
  a.st_ino = 7;
  struct stat b = a;
  b.st_mtim.tv_nsec = 1;
  const auto ea = files::make_etag(a);
  CHECK(ea.front() == '"');
  CHECK(ea.back() == '"');
  CHECK(ea != files::make_etag(b));
  b = a;
  b.st_size = 11;
  CHECK(ea != files::make_etag(b));
}

TEST_CASE("If-None-Match decides before If-Modified-Since", "[files][conditional]") {
  const std::string etag = "\"a-b-c\"";
  const std::time_t mtime = 784111777;
  CHECK(files::not_modified({"\"a-b-c\"", "", ""}, etag, mtime));
  CHECK(files::not_modified({"\"x\", W/\"a-b-c\"", "", ""}, etag, mtime));  // weak compare
  CHECK(files::not_modified({"*", "", ""}, etag, mtime));
  CHECK_FALSE(files::not_modified({"\"other\"", "Sun, 06 Nov 1994 08:49:37 GMT", ""}, etag, mtime));
  CHECK(files::not_modified({"", "Sun, 06 Nov 1994 08:49:37 GMT", ""}, etag, mtime));
  CHECK(files::not_modified({"", "Mon, 07 Nov 1994 08:49:37 GMT", ""}, etag, mtime));
  CHECK_FALSE(files::not_modified({"", "Sat, 05 Nov 1994 08:49:37 GMT", ""}, etag, mtime));
  CHECK_FALSE(files::not_modified({"", "garbage", ""}, etag, mtime));
  CHECK_FALSE(files::not_modified({"", "", ""}, etag, mtime));
}

TEST_CASE("If-Range needs a strong etag match or the exact date", "[files][conditional]") {
  const std::string etag = "\"a-b-c\"";
  const std::time_t mtime = 784111777;
  CHECK(files::if_range_allows("", etag, mtime));
  CHECK(files::if_range_allows("\"a-b-c\"", etag, mtime));
  CHECK_FALSE(files::if_range_allows("W/\"a-b-c\"", etag, mtime));
  CHECK_FALSE(files::if_range_allows("\"old\"", etag, mtime));
  CHECK(files::if_range_allows("Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime));
  CHECK_FALSE(files::if_range_allows("Sun, 06 Nov 1994 08:49:38 GMT", etag, mtime));
}
