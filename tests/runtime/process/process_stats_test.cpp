#include "runtime/process/process_stats.hpp"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <vector>

namespace proc = nodus::runtime::process;

TEST_CASE("status parsing picks VmRSS, VmSize and VmData", "[process]") {
  proc::process_stats s;
  proc::parse_proc_status("Name:\tnodus\nVmSize:\t  2048 kB\nVmData:\t 512 kB\nVmRSS:\t 100 kB\n", s);
  CHECK(s.virtual_memory_bytes == 2048u * 1024);
  CHECK(s.heap_bytes == 512u * 1024);
  CHECK(s.resident_memory_bytes == 100u * 1024);
}

TEST_CASE("live figures track what the process does", "[process]") {
  const auto before = proc::read_process_stats();
  CHECK(before.resident_memory_bytes > 0);
  CHECK(before.virtual_memory_bytes >= before.resident_memory_bytes);
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(before.start_time_seconds <= now + 1);
  CHECK(before.start_time_seconds > now - 3600);

  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(::open("/dev/null", O_RDONLY));
  const auto with_fds = proc::read_process_stats();
  CHECK(with_fds.open_fds == before.open_fds + 10);
  for (int fd : fds) ::close(fd);

  // Burn some CPU and touch memory: both counters must move.
  std::vector<char> block(64 << 20, 1);
  volatile unsigned long sum = 0;
  for (int round = 0; round < 20; ++round) {
    for (std::size_t i = 0; i < block.size(); i += 64) sum = sum + static_cast<unsigned long>(block[i]);
  }
  const auto after = proc::read_process_stats();
  CHECK(after.cpu_user_seconds + after.cpu_system_seconds >
        before.cpu_user_seconds + before.cpu_system_seconds);
  CHECK(after.resident_memory_bytes >= before.resident_memory_bytes + (32u << 20));
  CHECK(sum > 0);
}
