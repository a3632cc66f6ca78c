#include "handlers/object_store.hpp"

#include "handlers/isolates.hpp"
#include "handlers/objects_codec.hpp"
#include "runtime/heap/heap.hpp"

namespace nodus::handlers {

namespace rh = runtime::heap;

object_store::object_store(isolate& iso) : object_store(iso.heap) {}

boost::system::result<void, json_parse_error> object_store::put(std::uint64_t id, std::string_view body) {
  rh::handle_scope scope(heap_);
  // The body as a heap string, alive while the document is built (as JSON.parse(body)).
  auto text = heap_.new_string(body);
  if (!text) {
    ++stats_.rejected_heap_full;
    return json_parse_error{"heap_limit", "the heap cannot hold the request body"};
  }
  // Parsed from the request's own buffer: the heap copy may move during the GCs parsing causes.
  auto root = parse_to_heap(heap_, body);
  if (!root) {
    if (root.error().error == "heap_limit") ++stats_.rejected_heap_full;
    return root.error();
  }
  auto [it, inserted] = docs_.try_emplace(id);
  it->second = rh::persistent<>(heap_, *root);
  ++(inserted ? stats_.inserted : stats_.replaced);
  return {};
}

std::optional<std::string> object_store::get(std::uint64_t id) const {
  const auto it = docs_.find(id);
  if (it == docs_.end()) return std::nullopt;
  std::string out;
  if (!to_json(heap_, it->second.get(), out)) return std::nullopt;  // unreachable: documents come from parse_to_heap
  return out;
}

bool object_store::remove(std::uint64_t id) {
  if (docs_.erase(id) == 0) return false;
  ++stats_.deleted;
  return true;
}

std::vector<std::uint64_t> object_store::list(std::uint64_t after, std::size_t limit) const {
  std::vector<std::uint64_t> ids;
  for (auto it = docs_.upper_bound(after); it != docs_.end() && ids.size() < limit; ++it) {
    ids.push_back(it->first);
  }
  return ids;
}

object_store_stats object_store::stats() const noexcept {
  object_store_stats s = stats_;
  s.documents = docs_.size();
  return s;
}

}  // namespace nodus::handlers
