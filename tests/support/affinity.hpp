#pragma once
// CPU affinity for tests that need threads on one CPU (Linux).
#include <sched.h>

#include <catch2/catch.hpp>

namespace nodus::test {

// The first CPU the calling thread may run on, as a mask of that one CPU.
inline cpu_set_t first_allowed_cpu() {
  cpu_set_t allowed;
  REQUIRE(::sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &allowed)) ++cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return one;
}

// Pins the calling thread to first_allowed_cpu() for the scope, then gives it its mask back.
class pinned_to_one_cpu {
 public:
  pinned_to_one_cpu() {
    REQUIRE(::sched_getaffinity(0, sizeof saved_, &saved_) == 0);
    const cpu_set_t one = first_allowed_cpu();
    REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
  }
  ~pinned_to_one_cpu() { ::sched_setaffinity(0, sizeof saved_, &saved_); }
  pinned_to_one_cpu(const pinned_to_one_cpu&) = delete;
  pinned_to_one_cpu& operator=(const pinned_to_one_cpu&) = delete;

 private:
  cpu_set_t saved_;
};

}  // namespace nodus::test
