#include "server/files/mime_types.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace nodus::server::files {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string with_charset(const std::string& type) {
  return type.rfind("text/", 0) == 0 ? type + "; charset=utf-8" : type;
}

}  // namespace

mime_types::mime_types(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string type;
    if (!(fields >> type)) continue;
    const std::string value = with_charset(lower(type));
    std::string ext;
    while (fields >> ext) by_ext_.emplace(lower(ext), value);  // first mention wins
  }
  // The bundled site must render even where mime.types is absent.
  for (const auto& [ext, type] : {std::pair{"html", "text/html"}, std::pair{"txt", "text/plain"},
                                  std::pair{"png", "image/png"}, std::pair{"css", "text/css"},
                                  std::pair{"js", "text/javascript"},
                                  std::pair{"json", "application/json"}}) {
    by_ext_.emplace(ext, with_charset(type));
  }
}

std::string_view mime_types::lookup(std::string_view file_name) const {
  static const std::string fallback = "application/octet-stream";
  const auto slash = file_name.rfind('/');
  const auto base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  const auto dot = base.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == base.size()) return fallback;
  std::string ext = lower(base.substr(dot + 1));
  const auto it = by_ext_.find(ext);
  return it == by_ext_.end() ? std::string_view(fallback) : std::string_view(it->second);
}

}  // namespace nodus::server::files
