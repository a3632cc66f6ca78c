#pragma once
// free_list: free blocks of old-space pages, segregated by power-of-two size class. A free
// block is a free_space filler object whose header links it to the next block of its class.
#include <array>
#include <cstddef>

#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

// Writes a filler covering [start, start + bytes) so pages stay iterable. bytes >= 8.
void write_filler(std::byte* start, std::size_t bytes) noexcept;

class free_list {
 public:
  static constexpr std::size_t min_block_bytes = 16;

  // Adds [start, start + bytes) (writes its filler); blocks below the minimum are only filled.
  void add(std::byte* start, std::size_t bytes) noexcept;
  // Removes and returns a block of at least `bytes`, with its size in *block_bytes.
  std::byte* take(std::size_t bytes, std::size_t* block_bytes) noexcept;
  void clear() noexcept;
  std::size_t available_bytes() const noexcept { return available_; }

 private:
  static constexpr std::size_t class_count = 32;
  static std::size_t class_of(std::size_t bytes) noexcept;

  std::array<heap_object*, class_count> heads_{};
  std::size_t available_ = 0;
};

}  // namespace nodus::runtime::heap
