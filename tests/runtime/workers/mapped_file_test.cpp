// read_mapped: the bytes of a range, in order, in pieces; a file cut short while mapped is an
// answer (`shrunk`), not a SIGBUS; a SIGBUS that is not a guarded read's still kills.
#include "runtime/workers/mapped_file.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace w = nodus::runtime::workers;

namespace {

constexpr std::size_t window = w::map_window_bytes;

// A temporary file holding `data`, open read-only (`fd`); removed at the end.
struct temp_file {
  std::filesystem::path path;
  int fd = -1;
  explicit temp_file(const std::string& data) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nodus-map-XXXXXX").string();
    const int wfd = ::mkstemp(tmpl.data());
    REQUIRE(wfd >= 0);
    path = tmpl;
    for (std::size_t off = 0; off < data.size();) {
      const ssize_t n = ::write(wfd, data.data() + off, data.size() - off);
      REQUIRE(n > 0);
      off += static_cast<std::size_t>(n);
    }
    ::close(wfd);
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
  }
  ~temp_file() {
    ::close(fd);
    std::filesystem::remove(path);
  }
  void truncate(std::size_t size) const { REQUIRE(::truncate(path.c_str(), static_cast<off_t>(size)) == 0); }
};

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t x = rng();
    for (std::size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>(x >> (8 * k));
  }
  return s;
}

// Collects what read_mapped hands over.
struct collector {
  std::string bytes;
  std::size_t pieces = 0;
  std::size_t largest = 0;
  std::size_t stop_after = 0;  // pieces; 0: never stop
  bool operator()(std::span<const std::byte> piece) {
    bytes.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    largest = std::max(largest, piece.size());
    return ++pieces != stop_after;
  }
};

// Runs `body` in a child process; its wait status.
template <class F>
int in_child(F body) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(30);  // a child stuck re-faulting dies of SIGALRM instead of hanging the test
    body();
    ::_exit(42);  // survived
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("read_mapped: the range's bytes, in order, in pieces, from any offset") {
  const std::string data = random_bytes(2 * window + 12'345, 1);
  const temp_file f(data);
  const std::size_t piece = GENERATE(std::size_t{1} << 20, std::size_t{300'001});
  for (const std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096},
                                   window - 3, window, data.size() - 1, data.size()}) {
    INFO("offset " << offset << ", piece " << piece);
    collector c;
    const auto r = w::read_mapped(f.fd, offset, data.size() - offset, piece, c);
    CHECK(r.status == w::map_read_status::done);
    CHECK(r.bytes == data.size() - offset);
    CHECK(c.largest <= piece);
    CHECK(c.bytes == data.substr(offset));  // CHECK, not ==: a mismatch prints 16 MiB
  }
  // A range that ends before the file does: nothing past it.
  collector c;
  const auto r = w::read_mapped(f.fd, 100, window, piece, c);
  CHECK(r.status == w::map_read_status::done);
  CHECK(c.bytes == data.substr(100, window));
}

TEST_CASE("read_mapped: the consumer stops it") {
  const std::string data = random_bytes(3 * (1u << 20) + 7, 2);
  const temp_file f(data);
  collector c;
  c.stop_after = 2;
  const auto r = w::read_mapped(f.fd, 0, data.size(), 1u << 20, c);
  CHECK(r.status == w::map_read_status::stopped);
  CHECK(r.bytes == 2u << 20);
  CHECK(c.bytes == data.substr(0, 2u << 20));
}

TEST_CASE("read_mapped: a file cut short before the read (its size from an older fstat) is reported, not a crash") {
  const std::string data = random_bytes(window + (3u << 20), 3);
  const temp_file f(data);
  const std::size_t cut = GENERATE(std::size_t{0}, std::size_t{(1u << 20) + 5}, window + 4096);
  INFO("cut to " << cut);
  f.truncate(cut);
  collector c;
  const auto r = w::read_mapped(f.fd, 0, data.size(), 1u << 20, c);
  CHECK(r.status == w::map_read_status::shrunk);
  // The first page wholly past the new end faults; the read stops after the piece holding it.
  const std::size_t fault_at = (cut + 4095) / 4096 * 4096;
  CHECK(r.bytes == (fault_at / (1u << 20) + 1) * (1u << 20));
  REQUIRE(c.bytes.size() == r.bytes);
  CHECK(c.bytes.substr(0, cut) == data.substr(0, cut));
  // Past the end: zeros (the last page's tail, then the zero pages mapped over the window).
  CHECK(c.bytes.find_first_not_of('\0', cut) == std::string::npos);
}

TEST_CASE("read_mapped: a file cut inside the last page read does not fault (documented: the caller checks the size)") {
  const std::string data = random_bytes((2u << 20) + 100, 7);
  const temp_file f(data);
  f.truncate((2u << 20) + 10);  // same last page
  collector c;
  const auto r = w::read_mapped(f.fd, 0, data.size(), 1u << 20, c);
  CHECK(r.status == w::map_read_status::done);
  CHECK(c.bytes.substr(0, (2u << 20) + 10) == data.substr(0, (2u << 20) + 10));
  CHECK(c.bytes.find_first_not_of('\0', (2u << 20) + 10) == std::string::npos);
}

TEST_CASE("read_mapped: a file cut short while it is being read is reported, and the next read works") {
  const std::string data = random_bytes(2 * window, 4);
  const temp_file f(data);
  std::size_t pieces = 0;
  std::string got;
  auto cut_after_first = [&](std::span<const std::byte> piece) {
    got.append(reinterpret_cast<const char*>(piece.data()), piece.size());  // reads it: faults past the end
    if (++pieces == 1) f.truncate(1u << 20);  // the next piece lies past the end
    return true;
  };
  const auto r = w::read_mapped(f.fd, 0, data.size(), 1u << 20, cut_after_first);
  CHECK(r.status == w::map_read_status::shrunk);
  CHECK(pieces == 2);  // the second piece faulted (read over zero pages), then it stopped
  CHECK(r.bytes == 2u << 20);
  CHECK(got.substr(0, 1u << 20) == data.substr(0, 1u << 20));

  // The handler is still in place and the window guard gone: a whole read of another file.
  const std::string other = random_bytes(window + 1, 5);
  const temp_file g(other);
  collector c;
  const auto again = w::read_mapped(g.fd, 0, other.size(), 1u << 20, c);
  CHECK(again.status == w::map_read_status::done);
  CHECK(c.bytes == other);
}

TEST_CASE("read_mapped: threads whose files are cut at the same time each get shrunk") {
  // Each thread's guard covers its own window only: both faults are caught, each by the
  // handler running on the thread that faulted.
  const std::string data = random_bytes(3u << 20, 10);
  const temp_file a(data), b(data);
  std::array<w::map_read_result, 2> results;
  std::atomic<int> at_first_piece{0};
  std::atomic<bool> truncate_failed{false};
  auto read_cut = [&](const temp_file& f, w::map_read_result& out) {
    std::size_t pieces = 0;
    std::string got;
    auto consume = [&](std::span<const std::byte> piece) {
      got.append(reinterpret_cast<const char*>(piece.data()), piece.size());
      if (++pieces == 1) {
        // Both threads hold a mapped window before either file is cut.
        at_first_piece.fetch_add(1);
        while (at_first_piece.load() < 2) std::this_thread::yield();
        if (::truncate(f.path.c_str(), 1 << 20) != 0) truncate_failed = true;  // no REQUIRE off the main thread
      }
      return true;
    };
    out = w::read_mapped(f.fd, 0, data.size(), 1u << 20, consume);
  };
  std::thread ta([&] { read_cut(a, results[0]); });
  std::thread tb([&] { read_cut(b, results[1]); });
  ta.join();
  tb.join();
  REQUIRE_FALSE(truncate_failed);
  CHECK(results[0].status == w::map_read_status::shrunk);
  CHECK(results[1].status == w::map_read_status::shrunk);
}

TEST_CASE("read_mapped: a read inside a consumer restores the outer read's guard") {
  const std::string data = random_bytes(3u << 20, 8);
  const temp_file outer(data), inner(data);
  // 256 KiB pieces; windows end at multiples of their size: [0, 256K), [256K, 512K),
  // [512K, 1M), [1M, 2M), ... The nested read runs in the first piece of [1M, 2M), and the
  // outer read's next piece, in the same window, faults: that window must still be guarded.
  constexpr std::size_t piece = 256u << 10;
  std::size_t read = 0;
  std::string got;
  auto consume = [&](std::span<const std::byte> p) {
    got.append(reinterpret_cast<const char*>(p.data()), p.size());
    read += p.size();
    if (read == (1u << 20) + piece) {
      collector c;
      CHECK(w::read_mapped(inner.fd, 0, data.size(), piece, c).status == w::map_read_status::done);
      CHECK(c.bytes == data);
      outer.truncate(read);
    }
    return true;
  };
  const auto r = w::read_mapped(outer.fd, 0, data.size(), piece, consume);
  CHECK(r.status == w::map_read_status::shrunk);
  CHECK(r.bytes == (1u << 20) + 2 * piece);
  CHECK(got.substr(0, (1u << 20) + piece) == data.substr(0, (1u << 20) + piece));
}

TEST_CASE("read_mapped: a SIGBUS that is not in the faulting thread's guarded window still kills the process") {
  const std::string data = random_bytes(2u << 20, 6);
  const temp_file f(data);
  const temp_file victim(data);
  // A mapping of `victim` past its end once it is cut: touching it faults, guarded or not.
  auto touch_cut_mapping = [&victim] {
    void* p = ::mmap(nullptr, 2u << 20, PROT_READ, MAP_PRIVATE, victim.fd, 0);
    if (p == MAP_FAILED) ::_exit(103);  // setup failed
    if (::ftruncate(::open(victim.path.c_str(), O_WRONLY), 4096) != 0) ::_exit(104);  // setup failed
    volatile const char* q = static_cast<const char*>(p);
    (void)q[1u << 20];  // SIGBUS
  };
  // Under ASan the children print its SIGBUS report before dying: expected output.
  auto died_of_it = [](int status) {
    INFO("wait status " << status);
    CHECK_FALSE((WIFEXITED(status) && WEXITSTATUS(status) == 42));  // it did not survive the fault
    CHECK_FALSE((WIFEXITED(status) && WEXITSTATUS(status) >= 100));  // its setup worked
    CHECK_FALSE((WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM));  // nor hang in it
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    CHECK(WIFSIGNALED(status));  // the sanitizers report the fault and exit instead
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGBUS);
#endif
  };
  SECTION("outside any read (the handler installed by an earlier one)") {
    died_of_it(in_child([&] {
      collector c;
      if (w::read_mapped(f.fd, 0, data.size(), 1u << 20, c).status != w::map_read_status::done) ::_exit(105);  // setup failed
      touch_cut_mapping();
    }));
  }
  SECTION("where a read's window was, after its consumer threw (the guard went with it)") {
    const void* window_at = nullptr;
    auto throw_at_first = [&](std::span<const std::byte> piece) -> bool {
      window_at = piece.data();  // offset 0: the window's first byte
      throw std::runtime_error("consumer failed");
    };
    CHECK_THROWS_AS(w::read_mapped(f.fd, 0, data.size(), 1u << 20, throw_at_first), std::runtime_error);
    REQUIRE(window_at != nullptr);
    died_of_it(in_child([&] {
      // The cut file mapped where the window was: a guard left behind would cover this address.
      void* p = ::mmap(const_cast<void*>(window_at), 64u << 10, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE,
                       victim.fd, 0);
      if (p != window_at) ::_exit(106);  // setup failed
      if (::ftruncate(::open(victim.path.c_str(), O_WRONLY), 4096) != 0) ::_exit(104);  // setup failed
      volatile const char* q = static_cast<const char*>(p);
      (void)q[8192];  // SIGBUS
    }));
  }
  SECTION("during a read, at an address outside its window") {
    died_of_it(in_child([&] {
      auto consume = [&](std::span<const std::byte>) {
        touch_cut_mapping();
        return true;
      };
      (void)w::read_mapped(f.fd, 0, data.size(), 1u << 20, consume);
    }));
  }
}
