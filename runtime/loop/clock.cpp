#include "runtime/loop/clock.hpp"

namespace nodus::runtime::loop {

clock& system_clock() noexcept {
  static steady_clock instance;
  return instance;
}

}  // namespace nodus::runtime::loop
