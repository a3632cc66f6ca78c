#include "server/files/file_response.hpp"

#include "server/files/conditional.hpp"
#include "server/files/range.hpp"

namespace nodus::server::files {

namespace http = boost::beast::http;

file_plan plan_file_response(const file_request& req, const struct stat& st,
                             std::string_view content_type) {
  file_plan plan;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string etag = make_etag(st);
  const std::time_t mtime = st.st_mtim.tv_sec;
  plan.headers.set(http::field::etag, etag);
  plan.headers.set(http::field::last_modified, http_date(mtime));
  plan.headers.set(http::field::accept_ranges, "bytes");

  if (not_modified({req.if_none_match, req.if_modified_since, req.if_range}, etag, mtime)) {
    plan.status = http::status::not_modified;  // RFC 9110 §15.4.5: no Content-Length/Type
    return plan;
  }
  plan.headers.set(http::field::content_type, content_type);

  range_request range;
  if (!req.range.empty() && if_range_allows(req.if_range, etag, mtime)) {
    range = parse_range(req.range, size);
  }
  switch (range.kind) {
    case range_kind::unsatisfiable:
      plan.status = http::status::range_not_satisfiable;
      plan.headers.set(http::field::content_range, "bytes */" + std::to_string(size));
      plan.headers.set(http::field::content_length, "0");
      return plan;
    case range_kind::single:
      plan.status = http::status::partial_content;
      plan.offset = range.range.first;
      plan.length = range.range.length();
      plan.headers.set(http::field::content_range,
                       "bytes " + std::to_string(range.range.first) + "-" +
                           std::to_string(range.range.last) + "/" + std::to_string(size));
      break;
    case range_kind::none:
    case range_kind::multiple:  // answered with the whole file, as nginx with max_ranges 1
      plan.length = size;
      break;
  }
  plan.headers.set(http::field::content_length, std::to_string(plan.length));
  if (req.head) plan.length = 0;
  return plan;
}

}  // namespace nodus::server::files
