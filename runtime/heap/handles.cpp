#include "runtime/heap/handles.hpp"

#include "runtime/heap/heap.hpp"

namespace nodus::runtime::heap {

void handle_storage::grow() {
  if (blocks_used_ == blocks_.size()) blocks_.push_back(std::make_unique<value[]>(block_slots));
  next_ = blocks_[blocks_used_].get();
  limit_ = next_ + block_slots;
  ++blocks_used_;
}

void handle_storage::restore(const mark& m) noexcept {
  next_ = m.next;
  limit_ = m.limit;
  blocks_used_ = m.blocks_used;
  // Keep one spare block for reuse; return the rest.
  if (blocks_.size() > blocks_used_ + 1) blocks_.resize(blocks_used_ + 1);
}

std::size_t handle_storage::size() const noexcept {
  if (blocks_used_ == 0) return 0;
  return (blocks_used_ - 1) * block_slots +
         static_cast<std::size_t>(next_ - blocks_[blocks_used_ - 1].get());
}

handle_scope::handle_scope(heap& h) noexcept
    : heap_(h), storage_(h.handles()), saved_(storage_.save()), depth_(++storage_.depth_) {}

handle_scope::~handle_scope() {
  --storage_.depth_;
  storage_.restore(saved_);
}

escapable_handle_scope::escapable_handle_scope(heap& h)
    : escape_slot_(h.handles().create(value::undefined())), inner_(h) {}

value* persistent_table::create(value v) {
  if (free_.empty()) {
    blocks_.push_back(std::make_unique<value[]>(block_slots));
    value* block = blocks_.back().get();
    for (std::size_t i = block_slots; i-- > 0;) {
      block[i] = value::hole();
      free_.push_back(&block[i]);
    }
  }
  value* slot = free_.back();
  free_.pop_back();
  *slot = v;
  ++live_;
  return slot;
}

void persistent_table::destroy(value* slot) noexcept {
  *slot = value::hole();
  free_.push_back(slot);  // capacity reserved when the block was created: cannot throw
  --live_;
}

}  // namespace nodus::runtime::heap
