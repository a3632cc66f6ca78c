#pragma once
// How many threads this process can run at once, for the defaults of --loops and --workers.
#include <cstddef>

namespace nodus::runtime::process {

// The CPUs in this thread's affinity mask (sched_getaffinity: what taskset, a cpuset or a
// container's --cpuset-cpus leave it), as Node 20's os.availableParallelism() counts them
// (libuv 1.46; a cgroup CPU quota is not counted); the online CPUs if the mask cannot be
// read. At least 1. Called before any thread is started, the main thread's mask is the
// process's.
unsigned available_parallelism();

// The CPUs set in an affinity mask of `bytes` bytes (a cpu_set_t or CPU_ALLOC's), at least 1.
// Exposed for tests.
unsigned count_cpus(const void* mask, std::size_t bytes);

}  // namespace nodus::runtime::process
