#include "runtime/workers/mapped_file.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <limits>

namespace nodus::runtime::workers {

namespace {

// The window the calling thread is reading, for the SIGBUS handler: [begin, end), `end`
// page-aligned; empty (0, 0) outside a read. A value, not a pointer to the reader's frame, so
// nothing is left pointing into a stack that has unwound. volatile: the handler reads it
// between any two instructions of the thread it interrupts.
struct guarded_window {
  volatile std::uintptr_t begin = 0;
  volatile std::uintptr_t end = 0;
  volatile std::sig_atomic_t faulted = 0;
};

// initial-exec: read from a signal handler, so no lazily allocated TLS block.
__attribute__((tls_model("initial-exec"))) thread_local guarded_window current_window;

std::uintptr_t page_size = 4096;       // set before the handler is installed
struct sigaction previous_action = {};  // the handler on_sigbus replaced; faults not ours go there

bool is_default_or_ignore(const struct sigaction& a) {
  // sa_handler and sa_sigaction share storage: SIG_DFL/SIG_IGN whichever flag is set.
  return a.sa_handler == SIG_DFL || a.sa_handler == SIG_IGN;
}

void forward(int sig, siginfo_t* info, void* context) {
  if (!is_default_or_ignore(previous_action)) {
    const struct sigaction previous = previous_action;
    // A one-shot handler expects the fault to hit the default action when it comes back.
    if ((previous.sa_flags & SA_RESETHAND) != 0) ::signal(SIGBUS, SIG_DFL);
    if ((previous.sa_flags & SA_SIGINFO) != 0) {
      previous.sa_sigaction(sig, info, context);
    } else {
      previous.sa_handler(sig);
    }
    return;
  }
  // The default action (ignoring a fault would re-run the faulting read forever): die of
  // SIGBUS as without this handler. A fault from the kernel repeats when the handler returns,
  // with its address; a SIGBUS sent by someone is raised again.
  ::signal(SIGBUS, SIG_DFL);
  if (info->si_code <= 0) ::raise(SIGBUS);
}

// Async-signal-safe: reads the thread's window, calls mmap (a plain system call), sets a flag.
void on_sigbus(int sig, siginfo_t* info, void* context) {
  guarded_window& w = current_window;
  const std::uintptr_t begin = w.begin, end = w.end;
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  if (info->si_code == BUS_ADRERR && addr >= begin && addr < end) {
    const std::uintptr_t page = addr & ~(page_size - 1);
    const int saved_errno = errno;
    // Zero pages over the rest of the window (what munmap later removes with it): the read
    // that faulted resumes, and the ones after it do not fault again.
    void* zeros = ::mmap(reinterpret_cast<void*>(page), end - page, PROT_READ,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    errno = saved_errno;
    if (zeros != MAP_FAILED) {
      w.faulted = 1;
      return;
    }
  }
  forward(sig, info, context);
}

// Installs on_sigbus once per process. False if sigaction failed.
bool install_handler() {
  static const bool installed = [] {
    page_size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    // The previous action first: on_sigbus may run (on another thread) once installed.
    if (::sigaction(SIGBUS, nullptr, &previous_action) != 0) return false;
    struct sigaction action = {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | (previous_action.sa_flags & SA_ONSTACK);
    action.sa_mask = previous_action.sa_mask;
    return ::sigaction(SIGBUS, &action, nullptr) == 0;
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

// One mapped window, guarded while it lives; unmapped, and the guard it replaced (a read
// inside a consumer's) restored, on every way out, including a consumer that throws.
class window {
 public:
  window(void* base, std::size_t length)
      : base_(base), length_(length),
        outer_begin_(current_window.begin), outer_end_(current_window.end), outer_faulted_(current_window.faulted) {
    const auto begin = reinterpret_cast<std::uintptr_t>(base);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    current_window.faulted = 0;
    current_window.begin = begin;
    current_window.end = begin + ((length + page_size - 1) & ~(page_size - 1));
    std::atomic_signal_fence(std::memory_order_seq_cst);  // set before any byte is read
  }
  ~window() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    current_window.begin = outer_begin_;
    current_window.end = outer_end_;
    current_window.faulted = outer_faulted_;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ::munmap(base_, length_);
  }
  window(const window&) = delete;
  window& operator=(const window&) = delete;

  const std::byte* data() const noexcept { return static_cast<const std::byte*>(base_); }
  bool faulted() const noexcept { return current_window.faulted != 0; }

 private:
  void* base_;
  std::size_t length_;
  std::uintptr_t outer_begin_, outer_end_;
  std::sig_atomic_t outer_faulted_;
};

// A fault in a window of `fd` that ends at file offset `end`: the file shrank below it, or
// reading its pages failed (a disk or network file system error) while it is still as long.
map_read_result after_fault(int fd, std::uint64_t end, map_read_result r) {
  struct stat st = {};
  if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= end) {
    r.status = map_read_status::failed;
    r.error = EIO;
  } else {
    r.status = map_read_status::shrunk;
  }
  return r;
}

}  // namespace

map_read_result read_mapped(int fd, std::uint64_t offset, std::uint64_t length, std::size_t piece_bytes,
                            piece_consumer consume) {
  map_read_result r;
  if (!install_handler() || !handler_in_place()) {
    r.status = map_read_status::unmappable;
    r.error = ENOTSUP;
    return r;
  }
  constexpr auto max_offset = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
  if (offset > max_offset || length > max_offset - offset) {
    r.status = map_read_status::unmappable;
    r.error = EOVERFLOW;
    return r;
  }
  piece_bytes = std::max<std::size_t>(piece_bytes, 1);
  const std::uint64_t end = offset + length;
  // The first window holds about one piece; each next one doubles, up to map_window_bytes.
  // A job that stops after a piece (its thread is wanted) has mapped little more than it read.
  std::size_t window_bytes = std::min(map_window_bytes, (piece_bytes + page_size - 1) & ~(page_size - 1));
  std::uint64_t pos = offset;
  while (pos < end) {
    // A window ends at a multiple of its size in the file, so from 2 MiB on, windows start on
    // 2 MiB boundaries: the kernel maps the page cache's 2 MiB folios there with one entry
    // each (FilePmdMapped) instead of 512, when the file is cached in them.
    const std::uint64_t window_end = std::min(end, (pos / window_bytes + 1) * window_bytes);
    // mmap wants a page-aligned file offset: map from the page holding `pos`.
    const std::uint64_t map_start = pos & ~static_cast<std::uint64_t>(page_size - 1);
    const std::size_t head = static_cast<std::size_t>(pos - map_start);
    const auto map_length = static_cast<std::size_t>(window_end - map_start);
    // MAP_POPULATE: the window's page-table entries in one system call, not a fault per 16
    // pages. Pages past a file's end are left out, and reading them faults (see on_sigbus).
    void* base = ::mmap(nullptr, map_length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, static_cast<off_t>(map_start));
    if (base == MAP_FAILED) {
      r.status = map_read_status::unmappable;
      r.error = errno;
      return r;
    }
    window w(base, map_length);
    for (std::size_t at = head; at < map_length;) {
      const std::size_t n = std::min(piece_bytes, map_length - at);
      const bool go_on = consume(std::span<const std::byte>(w.data() + at, n));
      r.bytes += n;
      at += n;
      if (w.faulted()) return after_fault(fd, map_start + map_length, r);
      if (!go_on && offset + r.bytes < end) {
        r.status = map_read_status::stopped;
        return r;
      }
    }
    pos = map_start + map_length;
    window_bytes = std::min(map_window_bytes, window_bytes * 2);
  }
  return r;
}

}  // namespace nodus::runtime::workers
