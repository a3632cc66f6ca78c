#include "runtime/process/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace nodus::runtime::process {
namespace {

double to_seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::uint64_t count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // the directory stream's own descriptor
}

// Process start as Unix time: boot time + start ticks from /proc/self/stat (field 22).
double start_time_seconds() {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto close_paren = stat.rfind(')');  // the command name may contain spaces
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close_paren + 2));
  std::string field;
  unsigned long long start_ticks = 0;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) start_ticks = std::stoull(field);
  }
  std::ifstream proc_stat("/proc/stat");
  std::string line;
  unsigned long long btime = 0;
  while (std::getline(proc_stat, line)) {
    if (line.rfind("btime ", 0) == 0) btime = std::stoull(line.substr(6));
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return static_cast<double>(btime) +
         static_cast<double>(start_ticks) / static_cast<double>(ticks > 0 ? ticks : 100);
}

}  // namespace

void parse_proc_status(const char* text, process_stats& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kb) == 1) {
      out.resident_memory_bytes = kb * 1024;
    } else if (std::sscanf(line.c_str(), "VmSize: %llu kB", &kb) == 1) {
      out.virtual_memory_bytes = kb * 1024;
    } else if (std::sscanf(line.c_str(), "VmData: %llu kB", &kb) == 1) {
      out.heap_bytes = kb * 1024;
    }
  }
}

process_stats read_process_stats() {
  process_stats s;
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    s.cpu_user_seconds = to_seconds(usage.ru_utime);
    s.cpu_system_seconds = to_seconds(usage.ru_stime);
  }
  std::ifstream status("/proc/self/status");
  const std::string text((std::istreambuf_iterator<char>(status)), std::istreambuf_iterator<char>());
  parse_proc_status(text.c_str(), s);
  s.open_fds = count_open_fds();
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    s.max_fds = lim.rlim_cur;
  }
  static const double start = start_time_seconds();
  s.start_time_seconds = start;
  return s;
}

}  // namespace nodus::runtime::process
