#pragma once
// memory_chunk: an aligned block of old-generation memory (one old-space page, or one large
// object) whose first bytes hold this header, so chunk_of(object) is a mask. An object in a
// chunk always starts within the first page_size bytes, which is what makes the mask valid.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/heap/object.hpp"
#include "runtime/heap/remembered_set.hpp"

namespace nodus::runtime::heap {

inline constexpr std::size_t page_size = 256 * 1024;

enum class chunk_owner : std::uint8_t { old_space, large_object_space };

class memory_chunk {
 public:
  // Allocates an aligned chunk of at least `bytes` (rounded up to page_size). nullptr on failure.
  static memory_chunk* allocate(chunk_owner owner, std::size_t bytes) noexcept;
  static void release(memory_chunk* chunk) noexcept;

  static memory_chunk* of(const void* address) noexcept {
    return reinterpret_cast<memory_chunk*>(reinterpret_cast<std::uintptr_t>(address) &
                                           ~(std::uintptr_t{page_size} - 1));
  }

  chunk_owner owner() const noexcept { return owner_; }
  std::size_t size_bytes() const noexcept { return size_; }
  std::byte* base() noexcept { return reinterpret_cast<std::byte*>(this); }
  std::byte* area_start() noexcept { return base() + area_offset; }
  std::byte* area_end() noexcept { return base() + size_; }
  std::size_t area_bytes() const noexcept { return size_ - area_offset; }

  // Old→new slots recorded by the write barrier (scavenge roots).
  slot_set& remembered() noexcept { return remembered_; }

  // Bytes of marked objects, filled by the marker during a major GC.
  std::size_t live_bytes = 0;
  bool evacuation_candidate = false;
  bool partially_evacuated = false;  // the OS refused memory mid-evacuation

  static constexpr std::size_t area_offset = 128;

 private:
  memory_chunk(chunk_owner owner, std::size_t size) noexcept
      : owner_(owner), size_(size), remembered_(size) {}
  ~memory_chunk() = default;

  chunk_owner owner_;
  std::size_t size_;
  slot_set remembered_;
};

}  // namespace nodus::runtime::heap
