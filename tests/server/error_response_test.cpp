#include "server/error_response.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace nodus::server;

TEST_CASE("error bodies are JSON with error and detail", "[server][errors]") {
  const auto res = error_response(boost::beast::http::status::not_found, "not_found",
                                  "no route for /x");
  CHECK(res.result_int() == 404);
  CHECK(res[boost::beast::http::field::content_type] == "application/json");
  CHECK(res[boost::beast::http::field::content_length] == std::to_string(res.body().size()));
  const auto v = boost::json::parse(res.body());
  CHECK(v.at("error").as_string() == "not_found");
  CHECK(v.at("detail").as_string() == "no route for /x");
}

TEST_CASE("request bytes quoted in the detail cannot break the JSON", "[server][errors]") {
  const std::string evil = "/a\"b\\c\r\n\x01\xff" + std::string(2000, 'x');
  const auto body = error_body("bad_request", evil);
  const auto v = boost::json::parse(body);  // throws if the output is not JSON
  const std::string detail(v.at("detail").as_string());
  CHECK(detail.starts_with("/a\"b\\c????"));
  CHECK(detail.size() == 512);
}
