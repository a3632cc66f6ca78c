#pragma once
// The object store over HTTP (issue 7): JSON documents kept on the managed heap of the loop
// that stored them.
//   POST   /objects                 store a document → 201 {"id": N, "loop": k}
//   GET    /objects?limit=&after=   ids in ascending order → {"ids": [...], "next": N|null}
//   GET    /objects/<id>            the document's JSON
//   PUT    /objects/<id>            replace it → {"id": N, "loop": k}
//   DELETE /objects/<id>            drop its root (its objects become garbage) → 204
// Ids are numbers that name their loop (id % loops): a request served by another loop is
// forwarded to the owner's thread and answered from the serving one. Errors: invalid JSON or
// nesting deeper than max_json_depth → 400; unknown id → 404; heap exhausted → 507, with
// every stored document intact.
#include <cstdint>

#include "handlers/isolates.hpp"
#include "server/router.hpp"

namespace nodus::handlers {

void register_objects(server::router& routes, const isolate_registry& isolates);

inline constexpr std::int64_t default_list_limit = 100;
inline constexpr std::int64_t max_list_limit = 1000;

}  // namespace nodus::handlers
