#pragma once
// Shared bits of the integration tests in this directory.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <initializer_list>
#include <string>
#include <vector>

#include "tests/integration/http_client.hpp"
#include "tests/integration/nodus_process.hpp"

namespace nodus::testing {

// nodus on an ephemeral port with one loop (unless `args` say otherwise), waiting for the
// listening line.
struct running_nodus {
  explicit running_nodus(std::initializer_list<std::string> args = {})
      : process(with_defaults(args)), port(process.wait_listening()) {}

  static std::vector<std::string> with_defaults(std::initializer_list<std::string> args) {
    std::vector<std::string> all{"--port", "0", "--loops", "1", "--workers", "1"};
    all.insert(all.end(), args.begin(), args.end());  // later flags win
    return all;
  }

  nodus_process process;
  std::uint16_t port;
};

// The "error" member of a JSON error body (empty when the body is not one).
inline std::string json_error(const std::string& body) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.as_object();
  if (!o.contains("error") || !o.contains("detail") || !o.at("error").is_string()) return {};
  return std::string(o.at("error").as_string());
}

}  // namespace nodus::testing
