#include "runtime/workers/mapped_file.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>

namespace nodus::runtime::workers {

namespace {

// The window the calling thread is reading, for the SIGBUS handler. `end` is page-aligned.
struct guarded_window {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  volatile std::sig_atomic_t shrunk = 0;
};

// initial-exec: read from a signal handler, so no lazily allocated TLS block.
__attribute__((tls_model("initial-exec"))) thread_local guarded_window* current_window = nullptr;

std::uintptr_t page_size = 4096;       // set before the handler is installed
struct sigaction previous_action = {};  // the handler on_sigbus replaced; faults not ours go there

void forward(int sig, siginfo_t* info, void* context) {
  if ((previous_action.sa_flags & SA_SIGINFO) != 0) {
    if (previous_action.sa_sigaction != nullptr) previous_action.sa_sigaction(sig, info, context);
    return;
  }
  if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(sig);
    return;
  }
  // The default action (ignoring a fault would re-run the faulting read forever): die of
  // SIGBUS as without this handler. The raised signal is delivered when the handler returns.
  ::signal(SIGBUS, SIG_DFL);
  ::raise(SIGBUS);
}

// Async-signal-safe: reads the thread's window, calls mmap (a plain system call), sets a flag.
void on_sigbus(int sig, siginfo_t* info, void* context) {
  guarded_window* const w = current_window;
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  if (w != nullptr && info->si_code == BUS_ADRERR && addr >= w->begin && addr < w->end) {
    const std::uintptr_t page = addr & ~(page_size - 1);
    const int saved_errno = errno;
    // Zero pages over the rest of the window (what munmap later removes with it): the read
    // that faulted resumes, and the ones after it do not fault again.
    void* zeros = ::mmap(reinterpret_cast<void*>(page), w->end - page, PROT_READ,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    errno = saved_errno;
    if (zeros != MAP_FAILED) {
      w->shrunk = 1;
      return;
    }
  }
  forward(sig, info, context);
}

// Installs on_sigbus once per process. False if sigaction failed.
bool install_handler() {
  static const bool installed = [] {
    page_size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction action = {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return ::sigaction(SIGBUS, &action, &previous_action) == 0;
  }();
  return installed;
}

// Whether on_sigbus still handles SIGBUS (nothing installed another handler over it since):
// without it a mapped read is not safe, and the caller reads another way.
bool handler_in_place() {
  struct sigaction now = {};
  return ::sigaction(SIGBUS, nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) != 0 &&
         now.sa_sigaction == on_sigbus;
}

// One mapped window, guarded while it lives; unmapped (and unguarded) on every way out,
// including a consumer that throws.
class window {
 public:
  window(void* base, std::size_t length) : base_(base), length_(length) {
    guard_.begin = reinterpret_cast<std::uintptr_t>(base);
    guard_.end = guard_.begin + ((length + page_size - 1) & ~(page_size - 1));
    current_window = &guard_;
    std::atomic_signal_fence(std::memory_order_seq_cst);  // set before any byte is read
  }
  ~window() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    current_window = nullptr;
    ::munmap(base_, length_);
  }
  window(const window&) = delete;
  window& operator=(const window&) = delete;

  const std::byte* data() const noexcept { return static_cast<const std::byte*>(base_); }
  bool shrunk() const noexcept { return guard_.shrunk != 0; }

 private:
  void* base_;
  std::size_t length_;
  guarded_window guard_;
};

}  // namespace

map_read_result read_mapped(int fd, std::uint64_t offset, std::uint64_t length, std::size_t piece_bytes,
                            piece_consumer consume) {
  map_read_result r;
  if (!install_handler() || !handler_in_place()) {
    r.status = map_read_status::unmappable;
    r.error = ENOTSUP;
    return r;
  }
  piece_bytes = std::max<std::size_t>(piece_bytes, 1);
  const std::uint64_t end = offset + length;
  std::uint64_t pos = offset;
  while (pos < end) {
    // mmap wants a page-aligned file offset: map from the page holding `pos`.
    const std::uint64_t map_start = pos & ~static_cast<std::uint64_t>(page_size - 1);
    const std::size_t head = static_cast<std::size_t>(pos - map_start);
    const auto map_length = static_cast<std::size_t>(std::min<std::uint64_t>(map_window_bytes, end - map_start));
    // MAP_POPULATE: the window's page-table entries in one system call, not a fault per 16
    // pages. Pages past a file's end are left out, and reading them faults (see on_sigbus).
    void* base = ::mmap(nullptr, map_length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, static_cast<off_t>(map_start));
    if (base == MAP_FAILED) {
      r.status = map_read_status::unmappable;
      r.error = errno;
      return r;
    }
    const window w(base, map_length);
    for (std::size_t at = head; at < map_length;) {
      const std::size_t n = std::min(piece_bytes, map_length - at);
      const bool go_on = consume(std::span<const std::byte>(w.data() + at, n));
      r.bytes += n;
      at += n;
      if (w.shrunk()) {
        r.status = map_read_status::shrunk;
        return r;
      }
      if (!go_on) {
        r.status = map_read_status::stopped;
        return r;
      }
    }
    pos = map_start + map_length;
  }
  return r;
}

}  // namespace nodus::runtime::workers
