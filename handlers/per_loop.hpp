#pragma once
// The shape every per-loop debug endpoint answers with: {"loops": [one object per loop]},
// for every loop or the one named by ?loop=k (400 for anything else).
#include <boost/json/object.hpp>

#include <functional>

#include "handlers/isolates.hpp"
#include "server/handler.hpp"

namespace nodus::handlers {

// Runs `fn` on each selected loop's own thread (isolate_registry::gather) and answers with
// the objects it returned, in loop order, from the serving loop. A loop that is gone by then
// is left out.
void answer_per_loop(const isolate_registry& isolates, const server::request& req,
                     const server::request_context& ctx, server::responder res,
                     std::function<boost::json::object(isolate&)> fn);

}  // namespace nodus::handlers
