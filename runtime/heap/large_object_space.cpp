#include "runtime/heap/large_object_space.hpp"

namespace nodus::runtime::heap {

large_object_space::~large_object_space() {
  for (memory_chunk* chunk : chunks_) memory_chunk::release(chunk);
}

heap_object* large_object_space::allocate(std::size_t size) noexcept {
  memory_chunk* chunk = memory_chunk::allocate(chunk_owner::large_object_space, size);
  if (chunk == nullptr) return nullptr;
  chunks_.push_back(chunk);
  used_ += size;
  committed_ += chunk->size_bytes();
  return object_in(chunk);
}

}  // namespace nodus::runtime::heap
