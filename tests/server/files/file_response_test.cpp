#include "server/files/file_response.hpp"

#include <catch2/catch.hpp>

#include "server/files/conditional.hpp"

namespace files = nodus::server::files;
namespace http = boost::beast::http;

namespace {

struct stat make_stat(std::uint64_t size, std::time_t mtime) {
  struct stat st{};
  st.st_size = static_cast<off_t>(size);
  st.st_mtim.tv_sec = mtime;
  st.st_ino = 42;
  return st;
}

std::string header(const files::file_plan& p, http::field f) { return std::string(p.headers[f]); }

}  // namespace

TEST_CASE("a plain GET sends the whole file with validators", "[files][plan]") {
  const auto st = make_stat(1000, 784111777);
  const auto p = files::plan_file_response({}, st, "text/plain; charset=utf-8");
  CHECK(p.status == http::status::ok);
  CHECK(p.offset == 0);
  CHECK(p.length == 1000);
  CHECK(header(p, http::field::content_length) == "1000");
  CHECK(header(p, http::field::content_type) == "text/plain; charset=utf-8");
  CHECK(header(p, http::field::last_modified) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(header(p, http::field::etag) == files::make_etag(st));
  CHECK(header(p, http::field::accept_ranges) == "bytes");
}

TEST_CASE("HEAD keeps the headers and sends no body", "[files][plan]") {
  files::file_request req;
  req.head = true;
  const auto p = files::plan_file_response(req, make_stat(1000, 1), "image/png");
  CHECK(p.status == http::status::ok);
  CHECK(header(p, http::field::content_length) == "1000");
  CHECK(p.length == 0);
}

TEST_CASE("matching validators give 304 without a body", "[files][plan]") {
  const auto st = make_stat(1000, 784111777);
  const std::string etag = files::make_etag(st);
  files::file_request req;
  req.if_none_match = etag;
  auto p = files::plan_file_response(req, st, "text/plain");
  CHECK(p.status == http::status::not_modified);
  CHECK(p.length == 0);
  CHECK(header(p, http::field::etag) == etag);
  CHECK(p.headers.find(http::field::content_length) == p.headers.end());

  files::file_request ims;
  ims.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  CHECK(files::plan_file_response(ims, st, "text/plain").status == http::status::not_modified);
  ims.if_modified_since = "Sat, 05 Nov 1994 08:49:37 GMT";
  CHECK(files::plan_file_response(ims, st, "text/plain").status == http::status::ok);
}

TEST_CASE("ranges give 206 or 416 with Content-Range", "[files][plan]") {
  const auto st = make_stat(1000, 784111777);
  files::file_request req;
  req.range = "bytes=100-199";
  auto p = files::plan_file_response(req, st, "application/octet-stream");
  CHECK(p.status == http::status::partial_content);
  CHECK(p.offset == 100);
  CHECK(p.length == 100);
  CHECK(header(p, http::field::content_range) == "bytes 100-199/1000");
  CHECK(header(p, http::field::content_length) == "100");

  req.range = "bytes=-10";
  p = files::plan_file_response(req, st, "application/octet-stream");
  CHECK(header(p, http::field::content_range) == "bytes 990-999/1000");

  req.range = "bytes=5000-";
  p = files::plan_file_response(req, st, "application/octet-stream");
  CHECK(p.status == http::status::range_not_satisfiable);
  CHECK(header(p, http::field::content_range) == "bytes */1000");
  CHECK(p.length == 0);

  req.range = "bytes=0-1,5-6";  // several ranges: the whole file (documented choice)
  p = files::plan_file_response(req, st, "application/octet-stream");
  CHECK(p.status == http::status::ok);
  CHECK(p.length == 1000);
}

TEST_CASE("If-Range decides whether a range is honoured", "[files][plan]") {
  const auto st = make_stat(1000, 784111777);
  files::file_request req;
  req.range = "bytes=0-9";
  req.if_range = "\"stale-etag\"";
  CHECK(files::plan_file_response(req, st, "x/y").status == http::status::ok);
  const std::string etag = files::make_etag(st);
  req.if_range = etag;
  CHECK(files::plan_file_response(req, st, "x/y").status == http::status::partial_content);
  req.if_range = "Sun, 06 Nov 1994 08:49:37 GMT";
  CHECK(files::plan_file_response(req, st, "x/y").status == http::status::partial_content);
}
