#pragma once
// What /proc says about this test process and its threads, or a server it runs (Linux), for
// tests that count wake-ups or descriptors rather than time.
#include <sys/types.h>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace nodus::test {

// Descriptors process `pid` ("self": this one) has open.
inline std::size_t open_fds(const std::string& pid = "self") {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + pid + "/fd")) ++n;
  return n;
}

// How often thread `tid` of this process went to sleep (epoll_wait, futex, ...).
inline std::uint64_t voluntary_switches(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("voluntary_ctxt_switches:")) return std::stoull(line.substr(line.find(':') + 1));
  }
  FAIL("no voluntary_ctxt_switches for thread " << tid);
  return 0;
}

}  // namespace nodus::test
