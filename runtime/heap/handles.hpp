#pragma once
// Precise roots: local handles owned by handle scopes (V8's HandleScope), and persistent
// handles (V8's Global). A handle is a slot the collectors update when they move its object,
// so handles stay valid across GC; raw pointers and `value`s do not.
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/heap/object.hpp"
#include "runtime/heap/value.hpp"

namespace nodus::runtime::heap {

class heap;

// A typed view of a handle slot. T is the layout the slot is expected to hold; the slot may
// hold any value (a primitive too) — check before dereferencing.
template <class T = heap_object>
class local {
 public:
  local() = default;
  explicit local(value* slot) noexcept : slot_(slot) {}
  template <class U>
  local(local<U> other) noexcept  // NOLINT: implicit upcast to heap_object
    requires std::is_same_v<T, heap_object>
      : slot_(other.slot()) {}

  value get() const noexcept { return *slot_; }
  // Valid until the next call that may trigger GC.
  T* operator->() const noexcept { return slot_->as<T>(); }
  T* raw() const noexcept { return slot_->as<T>(); }
  value* slot() const noexcept { return slot_; }
  bool empty() const noexcept { return slot_ == nullptr; }
  std::uint64_t id() const noexcept { return slot_->as_object()->id(); }
  template <class U>
  local<U> cast() const noexcept {
    return local<U>(slot_);
  }

 private:
  value* slot_ = nullptr;
};

// Block storage of the local handles of one heap; scopes save and restore its top.
class handle_storage {
 public:
  static constexpr std::size_t block_slots = 1024;

  value* create(value v) {
    if (next_ == limit_) grow();
    *next_ = v;
    return next_++;
  }

  struct mark {
    value* next;
    value* limit;
    std::size_t blocks_used;
  };
  mark save() const noexcept { return {next_, limit_, blocks_used_}; }
  void restore(const mark& m) noexcept;

  std::size_t depth() const noexcept { return depth_; }
  std::size_t size() const noexcept;
  std::size_t memory_bytes() const noexcept { return blocks_.size() * block_slots * sizeof(value); }

  // Calls fn(value* slot) for every live handle slot. Must not allocate handles.
  template <class Fn>
  void for_each_slot(Fn&& fn) {
    for (std::size_t b = 0; b < blocks_used_; ++b) {
      value* start = blocks_[b].get();
      value* end = b + 1 == blocks_used_ ? next_ : start + block_slots;
      for (value* slot = start; slot != end; ++slot) fn(slot);
    }
  }

 private:
  friend class handle_scope;
  void grow();

  std::vector<std::unique_ptr<value[]>> blocks_;
  std::size_t blocks_used_ = 0;
  value* next_ = nullptr;
  value* limit_ = nullptr;
  std::size_t depth_ = 0;
};

// Every local created while the scope is the innermost one dies with it. Scopes nest
// strictly (stack discipline). Creating a local needs an open scope.
class handle_scope {
 public:
  explicit handle_scope(heap& h) noexcept;
  ~handle_scope();
  handle_scope(const handle_scope&) = delete;
  handle_scope& operator=(const handle_scope&) = delete;

  // Only on the innermost scope (locals always go to the innermost one).
  template <class T = heap_object>
  local<T> make(value v) {
    assert(storage_.depth() == depth_ && "handle_scope::make on a scope that is not the innermost");
    return local<T>(storage_.create(v));
  }
  heap& owner() const noexcept { return heap_; }

 private:
  heap& heap_;
  handle_storage& storage_;
  handle_storage::mark saved_;
  std::size_t depth_;
};

// A scope that can pass one local out to its parent scope (V8's EscapableHandleScope).
class escapable_handle_scope {
 public:
  explicit escapable_handle_scope(heap& h);
  template <class T>
  local<T> escape(local<T> l) noexcept {
    *escape_slot_ = l.get();
    return local<T>(escape_slot_);
  }
  template <class T = heap_object>
  local<T> make(value v) {
    return inner_.make<T>(v);
  }

 private:
  value* escape_slot_;
  handle_scope inner_;
};

// Slots of persistent handles: stable addresses, reusable after release.
class persistent_table {
 public:
  value* create(value v);
  void destroy(value* slot) noexcept;
  std::size_t size() const noexcept { return live_; }
  std::size_t capacity_slots() const noexcept { return blocks_.size() * block_slots; }

  template <class Fn>
  void for_each_slot(Fn&& fn) {
    for (auto& block : blocks_) {
      for (std::size_t i = 0; i < block_slots; ++i) {
        if (!block[i].is_hole()) fn(&block[i]);
      }
    }
  }

 private:
  static constexpr std::size_t block_slots = 256;
  std::vector<std::unique_ptr<value[]>> blocks_;
  std::vector<value*> free_;
  std::size_t live_ = 0;
};

// A strong root until reset or destroyed (V8's Global). Must not outlive its heap.
template <class T = heap_object>
class persistent {
 public:
  persistent() = default;
  persistent(heap& h, value v);
  template <class U>
  persistent(heap& h, local<U> l) : persistent(h, l.get()) {}
  persistent(persistent&& other) noexcept : table_(other.table_), slot_(other.slot_) {
    other.table_ = nullptr;
    other.slot_ = nullptr;
  }
  persistent& operator=(persistent&& other) noexcept {
    if (this != &other) {
      reset();
      table_ = std::exchange(other.table_, nullptr);
      slot_ = std::exchange(other.slot_, nullptr);
    }
    return *this;
  }
  persistent(const persistent&) = delete;
  persistent& operator=(const persistent&) = delete;
  ~persistent() { reset(); }

  void reset() noexcept {
    if (table_ != nullptr) table_->destroy(slot_);
    table_ = nullptr;
    slot_ = nullptr;
  }
  bool empty() const noexcept { return slot_ == nullptr; }
  value get() const noexcept { return *slot_; }
  void set(value v) noexcept { *slot_ = v; }
  T* operator->() const noexcept { return slot_->as<T>(); }
  // A local view of the same slot: valid while this persistent is.
  local<T> as_local() const noexcept { return local<T>(slot_); }

 private:
  persistent_table* table_ = nullptr;
  value* slot_ = nullptr;
};

}  // namespace nodus::runtime::heap
