#include "runtime/process/parallelism.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace nodus::runtime::process {

namespace {
struct cpu_set_free {
  void operator()(cpu_set_t* set) const { CPU_FREE(set); }
};
}  // namespace

unsigned count_cpus(const void* mask, std::size_t bytes) {
  const int n = CPU_COUNT_S(bytes, static_cast<const cpu_set_t*>(mask));
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}

unsigned available_parallelism() {
  // A mask sized for the CPUs the kernel may report, doubled while it is too small (EINVAL:
  // machines with more CPUs than the mask has bits).
  const long configured = ::sysconf(_SC_NPROCESSORS_CONF);
  for (int cpus = static_cast<int>(std::max(configured, 1024L)); cpus <= (1 << 20); cpus *= 2) {
    const std::unique_ptr<cpu_set_t, cpu_set_free> mask(CPU_ALLOC(cpus));
    if (!mask) break;
    const std::size_t bytes = CPU_ALLOC_SIZE(cpus);
    if (::sched_getaffinity(0, bytes, mask.get()) == 0) return count_cpus(mask.get(), bytes);
    if (errno != EINVAL) break;
  }
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1u;
}

}  // namespace nodus::runtime::process
