#pragma once
// Decides the answer to GET/HEAD of a resolved static file: status, validators, Range, and
// which bytes follow the header. Pure: no I/O, so every header case is unit-tested.
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "server/files/path_resolver.hpp"

namespace nodus::server::files {

struct file_request {
  bool head = false;
  std::string_view range;              // Range header value, empty when absent
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view if_range;
};

struct file_plan {
  boost::beast::http::status status = boost::beast::http::status::ok;
  boost::beast::http::fields headers;  // Content-Type, Content-Length, ETag, Last-Modified, ...
  std::uint64_t offset = 0;            // first byte of the body to send
  std::uint64_t length = 0;            // bytes of body to send (0 for HEAD, 304, 416)
};

// `content_type` comes from mime_types; `st` describes the open file.
file_plan plan_file_response(const file_request& req, const struct stat& st,
                             std::string_view content_type);

}  // namespace nodus::server::files
