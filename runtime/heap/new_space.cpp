#include "runtime/heap/new_space.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace nodus::runtime::heap {

void semi_space::free_deleter::operator()(std::byte* p) const noexcept { std::free(p); }

bool semi_space::reserve(std::size_t capacity) noexcept {
  memory_.reset();
  capacity_ = 0;
  void* memory = std::aligned_alloc(64, round_up(capacity, 64));
  if (memory == nullptr) return false;
  memory_.reset(static_cast<std::byte*>(memory));
  capacity_ = capacity;
  return true;
}

new_space::new_space(std::size_t initial_capacity, std::size_t max_capacity)
    : target_capacity_(round_up(std::min(initial_capacity, max_capacity), 4096)),
      max_capacity_(round_up(max_capacity, 4096)) {
  if (!spaces_[0].reserve(target_capacity_) || !spaces_[1].reserve(target_capacity_)) {
    throw std::bad_alloc();  // start-up only
  }
  top_ = spaces_[0].start();
  limit_ = spaces_[0].end();
}

bool new_space::prepare_to_space() noexcept {
  semi_space& to = to_space();
  if (to.capacity() != target_capacity_ && !to.reserve(target_capacity_)) {
    // Keep the previous size if the larger reservation failed.
    target_capacity_ = from_space().capacity();
    if (!to.reserve(target_capacity_)) return false;
  }
  to_top_ = to.start();
  return true;
}

void new_space::flip() noexcept {
  active_ = 1 - active_;
  top_ = to_top_;
  limit_ = spaces_[active_].end();
  to_top_ = nullptr;
}

void new_space::record_survivors(std::size_t bytes) noexcept {
  survived_since_growth_ += bytes;
  if (survived_since_growth_ > target_capacity_ && target_capacity_ < max_capacity_) {
    target_capacity_ = std::min(target_capacity_ * 2, max_capacity_);
    survived_since_growth_ = 0;
  }
}

}  // namespace nodus::runtime::heap
