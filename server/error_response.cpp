#include "server/error_response.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace nodus::server {

namespace {
constexpr std::size_t max_detail_bytes = 512;

std::string printable(std::string_view s) {
  std::string out(s.substr(0, max_detail_bytes));
  std::replace_if(out.begin(), out.end(), [](char c) { return c < 0x20 || c > 0x7e; }, '?');
  return out;
}
}  // namespace

std::string error_body(std::string_view error, std::string_view detail) {
  boost::json::object o;
  o["error"] = error;
  o["detail"] = printable(detail);
  return boost::json::serialize(o);
}

response error_response(boost::beast::http::status status, std::string_view error,
                        std::string_view detail) {
  response res{status, 11};
  res.set(boost::beast::http::field::content_type, "application/json");
  res.body() = error_body(error, detail);
  res.prepare_payload();
  return res;
}

}  // namespace nodus::server
