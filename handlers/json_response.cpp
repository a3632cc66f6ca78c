#include "handlers/json_response.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace nodus::handlers {

server::response json_response(const boost::json::value& body, boost::beast::http::status status) {
  server::response res{status, 11};
  res.set(boost::beast::http::field::content_type, "application/json");
  res.body() = boost::json::serialize(body);
  res.body() += '\n';
  return res;
}

}  // namespace nodus::handlers
