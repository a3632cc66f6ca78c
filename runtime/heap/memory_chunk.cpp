#include "runtime/heap/memory_chunk.hpp"

#include <cstdlib>
#include <new>

namespace nodus::runtime::heap {

static_assert(sizeof(memory_chunk) <= memory_chunk::area_offset);

memory_chunk* memory_chunk::allocate(chunk_owner owner, std::size_t bytes) noexcept {
  const std::size_t size = round_up(bytes + area_offset, page_size);
  void* memory = std::aligned_alloc(page_size, size);
  if (memory == nullptr) return nullptr;
  return new (memory) memory_chunk(owner, size);
}

void memory_chunk::release(memory_chunk* chunk) noexcept {
  if (chunk == nullptr) return;
  chunk->~memory_chunk();
  std::free(chunk);
}

}  // namespace nodus::runtime::heap
