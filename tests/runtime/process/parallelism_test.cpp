#include "runtime/process/parallelism.hpp"

#include <catch2/catch.hpp>
#include <sched.h>

#include "tests/support/affinity.hpp"

namespace proc = nodus::runtime::process;

TEST_CASE("count_cpus counts the CPUs set in a mask, at least 1", "[process]") {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  CHECK(proc::count_cpus(&mask, sizeof mask) == 1);
  for (const int cpu : {0, 3, 5, 700}) CPU_SET(cpu, &mask);
  CHECK(proc::count_cpus(&mask, sizeof mask) == 4);
}

TEST_CASE("available_parallelism is the CPUs of the affinity mask, not of the machine", "[process]") {
  cpu_set_t allowed;
  REQUIRE(::sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  CHECK(proc::available_parallelism() == static_cast<unsigned>(CPU_COUNT(&allowed)));
  {
    // As under `taskset -c N` or a one-CPU cpuset, whatever the machine has.
    const nodus::test::pinned_to_one_cpu pin;
    CHECK(proc::available_parallelism() == 1);
  }
  CHECK(proc::available_parallelism() == static_cast<unsigned>(CPU_COUNT(&allowed)));
}
