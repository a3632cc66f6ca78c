#pragma once
// object_store: one loop's JSON documents, kept on that loop's managed heap. Each stored
// document is a tree of heap objects rooted by one persistent handle (a "global" in V8's
// terms), so it survives every GC until deleted; request-temporary values (the body string,
// a document being built) are young garbage the next scavenge reclaims.
//
// Single-threaded: used only on its loop's thread. Ids are assigned by the caller.
#include <boost/system/result.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/objects_codec.hpp"
#include "runtime/heap/handles.hpp"

namespace nodus::runtime::heap {
class heap;
}

namespace nodus::handlers {

class isolate;

struct object_store_stats {
  std::uint64_t documents = 0;
  std::uint64_t inserted = 0;
  std::uint64_t replaced = 0;
  std::uint64_t deleted = 0;
  std::uint64_t rejected_heap_full = 0;  // writes refused because the heap was exhausted
};

class object_store {
 public:
  explicit object_store(runtime::heap::heap& h) : heap_(h) {}
  explicit object_store(isolate& iso);  // for isolate::state<object_store>()

  // Parses `body` onto the heap (JSON.parse) and stores the document under `id`, replacing
  // any document there only once the new one is fully built: on failure (invalid JSON, too
  // deep, heap exhausted) the old one is intact. The body text itself is first copied to the
  // heap, as Node holds a request body in a string.
  boost::system::result<void, json_parse_error> put(std::uint64_t id, std::string_view body);
  bool contains(std::uint64_t id) const { return docs_.contains(id); }
  // The document's JSON text; nullopt when `id` is unknown.
  std::optional<std::string> get(std::uint64_t id) const;
  bool remove(std::uint64_t id);
  // Ids greater than `after`, ascending, at most `limit`.
  std::vector<std::uint64_t> list(std::uint64_t after, std::size_t limit) const;

  object_store_stats stats() const noexcept;
  // Ids are issued by the caller (routing to loops is the caller's); this counter helps it.
  std::uint64_t next_sequence() noexcept { return sequence_++; }

 private:
  runtime::heap::heap& heap_;
  std::map<std::uint64_t, runtime::heap::persistent<>> docs_;
  std::uint64_t sequence_ = 1;
  object_store_stats stats_;
};

}  // namespace nodus::handlers
