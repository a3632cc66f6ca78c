#pragma once
// The basic endpoints (the bundled site at / is served by handlers/files.hpp):
//   GET /health  {"status":"ok"}; the X-Nodus-Loop header names the loop that answered
//   GET /hello   "Hello, World!" (text/plain): the plaintext benchmark endpoint
#include "config/config.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

void register_basic(server::router& routes, const config::config& cfg);

}  // namespace nodus::handlers
