#pragma once
// Validators and conditional requests (RFC 9110 §8.8, §13) for static files.
#include <sys/stat.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace nodus::server::files {

// A strong ETag from size, modification time (ns) and inode: "<size>-<mtime>-<ino>" in hex.
// Any change of content through write(2) or replacement changes it.
std::string make_etag(const struct stat& st);

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string http_date(std::time_t t);
// Accepts IMF-fixdate, RFC 850 and asctime forms; nullopt when malformed.
std::optional<std::time_t> parse_http_date(std::string_view s);

// If-None-Match (weak comparison, "*" matches). True when `etag` is listed.
bool none_match_hits(std::string_view if_none_match, std::string_view etag);

struct request_conditions {
  std::string_view if_none_match;      // empty when absent
  std::string_view if_modified_since;  // empty when absent
  std::string_view if_range;           // empty when absent
};

// GET/HEAD: true when the client's copy is current (answer 304). If-None-Match, when present,
// decides alone; otherwise If-Modified-Since compares with the modification time (seconds).
bool not_modified(const request_conditions& c, std::string_view etag, std::time_t mtime);

// If-Range: true when a Range header may be honoured. An entity tag must match strongly
// (a weak tag never does); a date must equal Last-Modified exactly.
bool if_range_allows(std::string_view if_range, std::string_view etag, std::time_t mtime);

}  // namespace nodus::server::files
