#include "handlers/isolates.hpp"

#include <charconv>

namespace nodus::handlers {

isolate::~isolate() {
  while (!states_.empty()) states_.pop_back();
}

isolate* isolate_registry::local(unsigned index) const {
  std::lock_guard lock(mutex_);
  return index < slots_.size() ? slots_[index].iso : nullptr;
}

void isolate_registry::attach(unsigned index, isolate* iso) {
  std::lock_guard lock(mutex_);
  slots_.at(index).iso = iso;
}

void isolate_registry::detach(unsigned index) {
  std::lock_guard lock(mutex_);
  slots_.at(index).iso = nullptr;
}

bool isolate_registry::post(unsigned index, std::function<void(isolate&)> fn) const {
  std::lock_guard lock(mutex_);
  if (index >= slots_.size() || slots_[index].iso == nullptr) return false;
  isolate* iso = slots_[index].iso;
  // The loop is alive while attached, and detach() happens on the loop thread after run()
  // returned: a callback posted now either runs before that or is destroyed with the loop.
  iso->loop.post([iso, fn = std::move(fn)] { fn(*iso); });
  return true;
}

std::optional<std::vector<unsigned>> select_loops(const isolate_registry& isolates,
                                                  std::optional<std::string_view> loop_param) {
  std::vector<unsigned> which;
  if (!loop_param) {
    for (unsigned k = 0; k < isolates.size(); ++k) which.push_back(k);
    return which;
  }
  unsigned k = 0;
  const auto [end, ec] = std::from_chars(loop_param->data(), loop_param->data() + loop_param->size(), k);
  if (ec != std::errc{} || end != loop_param->data() + loop_param->size() || k >= isolates.size()) {
    return std::nullopt;
  }
  which.push_back(k);
  return which;
}

}  // namespace nodus::handlers
