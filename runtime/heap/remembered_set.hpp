#pragma once
// slot_set: the remembered set of one old-generation chunk — a bitmap with one bit per
// 8-byte slot, recording slots that may hold a reference into new space. The write barrier
// inserts; the scavenger visits the set as roots and drops slots that no longer point young.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/heap/value.hpp"

namespace nodus::runtime::heap {

class slot_set {
 public:
  explicit slot_set(std::size_t chunk_bytes) noexcept : words_((chunk_bytes / 8 + 63) / 64) {}

  void insert(std::size_t offset) {
    if (!bits_) bits_ = std::make_unique<std::uint64_t[]>(words_);
    const std::size_t bit = offset / 8;
    const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
    if ((bits_[bit / 64] & mask) == 0) {
      bits_[bit / 64] |= mask;
      ++count_;
    }
  }
  bool contains(std::size_t offset) const noexcept {
    if (!bits_) return false;
    const std::size_t bit = offset / 8;
    return (bits_[bit / 64] >> (bit % 64)) & 1;
  }
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  void clear() noexcept {
    bits_.reset();
    count_ = 0;
  }
  // Calls keep(offset) for every recorded slot; a slot is dropped when keep returns false.
  template <class Fn>
  void filter(Fn&& keep) {
    if (!bits_) return;
    for (std::size_t w = 0; w < words_; ++w) {
      std::uint64_t word = bits_[w];
      while (word != 0) {
        const int b = __builtin_ctzll(word);
        word &= word - 1;
        if (!keep((w * 64 + static_cast<std::size_t>(b)) * 8)) {
          bits_[w] &= ~(std::uint64_t{1} << b);
          --count_;
        }
      }
    }
    if (count_ == 0) bits_.reset();
  }
  // For callers that visit the slots and decide later (the scavenger's prefetching pipeline):
  // fn(offset) for every recorded slot; erase() may be called meanwhile, for any slot; then
  // release_if_empty().
  template <class Fn>
  void for_each(Fn&& fn) const {
    if (!bits_) return;
    for (std::size_t w = 0; w < words_; ++w) {
      std::uint64_t word = bits_[w];  // a copy: erasing bits of this word is safe
      while (word != 0) {
        const int b = __builtin_ctzll(word);
        word &= word - 1;
        fn((w * 64 + static_cast<std::size_t>(b)) * 8);
      }
    }
  }
  void erase(std::size_t offset) noexcept {
    const std::size_t bit = offset / 8;
    const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
    if (bits_ && (bits_[bit / 64] & mask) != 0) {
      bits_[bit / 64] &= ~mask;
      --count_;
    }
  }
  void release_if_empty() noexcept {
    if (count_ == 0) bits_.reset();
  }
  std::size_t memory_bytes() const noexcept { return bits_ ? words_ * 8 : 0; }

 private:
  std::size_t words_;
  std::size_t count_ = 0;
  std::unique_ptr<std::uint64_t[]> bits_;
};

}  // namespace nodus::runtime::heap
