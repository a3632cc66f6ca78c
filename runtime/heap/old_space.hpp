#pragma once
// old_space: the old generation's paged space — 256 KiB pages, a linear allocation area
// (bump pointer) refilled from the segregated free list, new pages on demand. Every byte of
// a page's area is an object or a filler, so pages are iterable.
#include <cstddef>
#include <vector>

#include "runtime/heap/free_list.hpp"
#include "runtime/heap/memory_chunk.hpp"

namespace nodus::runtime::heap {

class old_space {
 public:
  old_space() = default;
  ~old_space();
  old_space(const old_space&) = delete;
  old_space& operator=(const old_space&) = delete;

  // Must not trigger GC. nullptr when no free block fits and either `allow_new_page` is
  // false or the OS refuses a page. Objects must be <= max_object_bytes().
  heap_object* allocate(std::size_t size, bool allow_new_page) noexcept {
    if (static_cast<std::size_t>(lab_limit_ - lab_top_) >= size) {
      auto* object = reinterpret_cast<heap_object*>(lab_top_);
      lab_top_ += size;
      used_ += size;
      return object;
    }
    return allocate_slow(size, allow_new_page);
  }
  static constexpr std::size_t max_object_bytes() noexcept {
    return page_size - memory_chunk::area_offset;
  }

  // Ends the linear allocation area (its rest becomes a free block). Before any page walk.
  void retire_lab() noexcept;

  const std::vector<memory_chunk*>& pages() const noexcept { return pages_; }
  std::size_t used_bytes() const noexcept { return used_; }
  std::size_t committed_bytes() const noexcept { return pages_.size() * page_size; }
  std::size_t available_bytes() const noexcept {
    return free_list_.available_bytes() + static_cast<std::size_t>(lab_limit_ - lab_top_);
  }
  // Would allocating `size` bytes need a new page?
  bool needs_new_page(std::size_t size) const noexcept;

  // --- collector protocol ---------------------------------------------------------------
  free_list& free_blocks() noexcept { return free_list_; }
  void set_used_bytes(std::size_t bytes) noexcept { used_ = bytes; }
  // Releases the pages for which `pred(page)` is true.
  template <class Pred>
  void release_pages_if(Pred&& pred) {
    std::erase_if(pages_, [&](memory_chunk* page) {
      if (!pred(page)) return false;
      memory_chunk::release(page);
      return true;
    });
  }

 private:
  heap_object* allocate_slow(std::size_t size, bool allow_new_page) noexcept;

  std::vector<memory_chunk*> pages_;
  free_list free_list_;
  std::byte* lab_top_ = nullptr;
  std::byte* lab_limit_ = nullptr;
  std::size_t used_ = 0;
};

}  // namespace nodus::runtime::heap
