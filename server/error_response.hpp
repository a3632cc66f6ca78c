#pragma once
// JSON error responses: {"error": "<code>", "detail": "<human text>"}, escaped by Boost.JSON.
#include <boost/beast/http/status.hpp>

#include <string>
#include <string_view>

#include "server/responder.hpp"

namespace nodus::server {

// The JSON body for an error; `detail` is made printable ASCII (bytes outside 0x20..0x7e
// become '?') and cut to 512 bytes, so request bytes quoted back never break the JSON.
std::string error_body(std::string_view error, std::string_view detail);

response error_response(boost::beast::http::status status, std::string_view error,
                        std::string_view detail);

}  // namespace nodus::server
