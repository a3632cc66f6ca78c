#pragma once
// Time source of an event loop. The loop reads time only through a clock, so tests drive
// timers with manual_clock and never sleep.
#include <chrono>
#include <cstdint>

namespace nodus::runtime::loop {

using duration = std::chrono::nanoseconds;
using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

class clock {
 public:
  virtual ~clock() = default;
  virtual time_point now() const noexcept = 0;
  // True when time advances by itself; a loop on a manual clock never blocks waiting for it.
  virtual bool is_real() const noexcept = 0;
};

class steady_clock final : public clock {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
  bool is_real() const noexcept override { return true; }
};

// Time moves only when advance() is called. Single-threaded, like the loop that reads it.
class manual_clock final : public clock {
 public:
  time_point now() const noexcept override { return now_; }
  bool is_real() const noexcept override { return false; }
  void advance(duration d) noexcept { now_ += d; }

 private:
  time_point now_{};
};

// The process-wide real clock (stateless).
clock& system_clock() noexcept;

}  // namespace nodus::runtime::loop
