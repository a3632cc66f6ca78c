#pragma once
// Content types by file extension, from the system's mime.types (Debian's media-types).
#include <string>
#include <string_view>
#include <unordered_map>

namespace nodus::server::files {

class mime_types {
 public:
  // Reads `path` (mime.types format: "type ext ext ..."; '#' comments). A missing file leaves
  // only the built-in fallbacks for the bundled site's own types.
  explicit mime_types(const std::string& path = "/etc/mime.types");

  // The type for a file name, "application/octet-stream" when unknown. text/* types carry
  // "; charset=utf-8".
  std::string_view lookup(std::string_view file_name) const;

  std::size_t size() const noexcept { return by_ext_.size(); }

 private:
  std::unordered_map<std::string, std::string> by_ext_;
};

}  // namespace nodus::server::files
