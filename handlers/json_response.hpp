#pragma once
// JSON success responses (errors: server/error_response.hpp).
#include <boost/beast/http/status.hpp>
#include <boost/json/fwd.hpp>

#include "server/responder.hpp"

namespace nodus::handlers {

server::response json_response(const boost::json::value& body,
                               boost::beast::http::status status = boost::beast::http::status::ok);

}  // namespace nodus::handlers
