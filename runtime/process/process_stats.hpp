#pragma once
// Process-level resource figures, read from the kernel (getrusage, /proc/self). They feed
// the prom-client-compatible process_* metrics; field meanings follow prom-client 15.
#include <cstdint>
#include <optional>

namespace nodus::runtime::process {

struct process_stats {
  double cpu_user_seconds = 0;        // process_cpu_user_seconds_total
  double cpu_system_seconds = 0;      // process_cpu_system_seconds_total
  double start_time_seconds = 0;      // process_start_time_seconds (Unix epoch)
  std::uint64_t resident_memory_bytes = 0;  // VmRSS
  std::uint64_t virtual_memory_bytes = 0;   // VmSize
  std::uint64_t heap_bytes = 0;             // VmData (prom-client's process_heap_bytes)
  std::uint64_t open_fds = 0;
  std::optional<std::uint64_t> max_fds;     // RLIMIT_NOFILE soft limit; none if unlimited
};

// Reads the current figures. Cheap (a few small /proc reads); call per scrape.
process_stats read_process_stats();

// Parses the text of /proc/<pid>/status into `out` (VmRSS, VmSize, VmData). Exposed for tests.
void parse_proc_status(const char* text, process_stats& out);

}  // namespace nodus::runtime::process
