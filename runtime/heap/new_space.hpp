#pragma once
// new_space: the young generation — two semi-spaces; the active one takes bump allocations,
// the other is the scavenger's to-space. Capacity grows (doubling, up to the maximum) when
// survivors keep filling it, as V8's does.
#include <cstddef>
#include <memory>

#include "runtime/heap/object.hpp"

namespace nodus::runtime::heap {

class semi_space {
 public:
  semi_space() = default;
  // Replaces the memory with `capacity` bytes (a private anonymous mapping); contents are
  // lost. false when the mapping fails. `populate` pre-touches every page now (as the JVM's
  // AlwaysPreTouch), so the scavenges that later copy into this space take no page faults:
  // used for the start-up capacity, outside any pause. A space grown inside a scavenge is
  // not pre-touched (touching all of it would cost more than the faults on the pages that
  // survivors touch).
  bool reserve(std::size_t capacity, bool populate = false) noexcept;

  std::byte* start() const noexcept { return memory_.get(); }
  std::byte* end() const noexcept { return memory_.get() + capacity_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool contains(const void* p) const noexcept {
    auto* b = static_cast<const std::byte*>(p);
    return b >= start() && b < end();
  }

 private:
  struct unmap_deleter {
    std::size_t length;  // no initializer: keeps it default-constructible inside semi_space
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte[], unmap_deleter> memory_;
  std::size_t capacity_ = 0;
};

class new_space {
 public:
  new_space(std::size_t initial_capacity, std::size_t max_capacity);

  // Bump allocation; nullptr when the active semi-space is full. Must not trigger GC.
  heap_object* allocate(std::size_t size) noexcept {
    if (static_cast<std::size_t>(limit_ - top_) < size) return nullptr;
    auto* object = reinterpret_cast<heap_object*>(top_);
    top_ += size;
    return object;
  }

  bool contains(const void* p) const noexcept { return active().contains(p); }
  std::byte* active_start() const noexcept { return active().start(); }
  std::byte* top() const noexcept { return top_; }

  std::size_t used_bytes() const noexcept { return static_cast<std::size_t>(top_ - active().start()); }
  std::size_t capacity() const noexcept { return active().capacity(); }
  std::size_t target_capacity() const noexcept { return target_capacity_; }
  std::size_t max_capacity() const noexcept { return max_capacity_; }
  std::size_t committed_bytes() const noexcept {
    return spaces_[0].capacity() + spaces_[1].capacity();
  }

  // --- scavenger protocol ---------------------------------------------------------------
  // Sizes the to-space to the target capacity and resets its bump pointer.
  bool prepare_to_space() noexcept;
  semi_space& from_space() noexcept { return spaces_[active_]; }
  semi_space& to_space() noexcept { return spaces_[1 - active_]; }
  // Bump allocation in to-space during a scavenge (never fails: to-space >= from-space).
  heap_object* allocate_in_to_space(std::size_t size) noexcept {
    if (static_cast<std::size_t>(to_space().end() - to_top_) < size) return nullptr;
    auto* object = reinterpret_cast<heap_object*>(to_top_);
    to_top_ += size;
    return object;
  }
  std::byte* to_top() const noexcept { return to_top_; }
  // The scavenger bumps a local copy of the to-space top and stores it back before flip().
  void set_to_top(std::byte* top) noexcept { to_top_ = top; }
  // Makes to-space the active space; its allocation continues after the survivors.
  void flip() noexcept;
  // Records survivors of a scavenge; doubles the target capacity once survivors since the
  // last growth exceed the capacity (V8's rule).
  void record_survivors(std::size_t bytes) noexcept;

 private:
  const semi_space& active() const noexcept { return spaces_[active_]; }

  semi_space spaces_[2];
  int active_ = 0;
  std::byte* top_ = nullptr;
  std::byte* limit_ = nullptr;
  std::byte* to_top_ = nullptr;
  std::size_t target_capacity_;
  std::size_t max_capacity_;
  std::size_t survived_since_growth_ = 0;
};

}  // namespace nodus::runtime::heap
