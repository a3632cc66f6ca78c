#include "runtime/heap/old_space.hpp"

namespace nodus::runtime::heap {

old_space::~old_space() {
  for (memory_chunk* page : pages_) memory_chunk::release(page);
}

void old_space::retire_lab() noexcept {
  const auto rest = static_cast<std::size_t>(lab_limit_ - lab_top_);
  if (rest > 0) free_list_.add(lab_top_, rest);
  lab_top_ = lab_limit_ = nullptr;
}

bool old_space::needs_new_page(std::size_t size) const noexcept {
  // Conservative: the free list's total may be fragmented, so only the LAB and a block of
  // the right size class count. A rough answer is enough for limit checks.
  return static_cast<std::size_t>(lab_limit_ - lab_top_) < size && free_list_.available_bytes() < size;
}

heap_object* old_space::allocate_slow(std::size_t size, bool allow_new_page) noexcept {
  retire_lab();
  std::size_t block_bytes = 0;
  std::byte* block = free_list_.take(size, &block_bytes);
  if (block == nullptr) {
    if (!allow_new_page) return nullptr;
    memory_chunk* page = memory_chunk::allocate(chunk_owner::old_space, page_size - memory_chunk::area_offset);
    if (page == nullptr) return nullptr;
    pages_.push_back(page);
    block = page->area_start();
    block_bytes = page->area_bytes();
  }
  lab_top_ = block;
  lab_limit_ = block + block_bytes;
  return allocate(size, allow_new_page);
}

}  // namespace nodus::runtime::heap
