#include "runtime/heap/free_list.hpp"

#include <bit>

namespace nodus::runtime::heap {

void write_filler(std::byte* start, std::size_t bytes) noexcept {
  auto* header = reinterpret_cast<object_header*>(start);
  header->size_bytes = static_cast<std::uint32_t>(bytes);
  header->gc_bits = 0;
  header->flags = 0;
  if (bytes >= header_size) {
    header->kind = object_kind::free_space;
    header->id_or_forward = 0;
  } else {
    header->kind = object_kind::one_word_filler;
  }
}

std::size_t free_list::class_of(std::size_t bytes) noexcept {
  return static_cast<std::size_t>(std::bit_width(bytes) - 1);
}

void free_list::add(std::byte* start, std::size_t bytes) noexcept {
  write_filler(start, bytes);
  if (bytes < min_block_bytes) return;
  auto* block = reinterpret_cast<heap_object*>(start);
  const std::size_t c = class_of(bytes);
  block->header.id_or_forward = reinterpret_cast<std::uintptr_t>(heads_[c]);
  heads_[c] = block;
  available_ += bytes;
}

std::byte* free_list::take(std::size_t bytes, std::size_t* block_bytes) noexcept {
  std::size_t c = class_of(bytes);
  // The block's own class may hold blocks smaller than `bytes`: a few first-fit probes.
  heap_object* prev = nullptr;
  heap_object* block = heads_[c];
  for (int probes = 0; block != nullptr && probes < 8; ++probes) {
    if (block->size_bytes() >= bytes) {
      if (prev == nullptr) {
        heads_[c] = block->forwarding_address();
      } else {
        prev->header.id_or_forward = block->header.id_or_forward;
      }
      *block_bytes = block->size_bytes();
      available_ -= *block_bytes;
      return block->address();
    }
    prev = block;
    block = block->forwarding_address();
  }
  // Any block of a larger class fits.
  for (++c; c < class_count; ++c) {
    heap_object* head = heads_[c];
    if (head == nullptr) continue;
    heads_[c] = head->forwarding_address();
    *block_bytes = head->size_bytes();
    available_ -= *block_bytes;
    return head->address();
  }
  return nullptr;
}

void free_list::clear() noexcept {
  heads_.fill(nullptr);
  available_ = 0;
}

}  // namespace nodus::runtime::heap
