#pragma once
// mapped_file: reads a regular file's bytes in place, out of the page cache, through a
// read-only mapping, window by window: no copy into a buffer. GET /hash/files hashes them so
// (workers::hash_file); a pread loop spent ~15% of that job copying.
//
// A mapping's hazard is a file cut short while it is mapped: touching a page past the new end
// raises SIGBUS, which would kill the server. read_mapped turns that into an answer: a
// process-wide SIGBUS handler (installed on first use, chaining to the handler it replaces)
// looks at the faulting address. When it lies in the window the faulting thread is reading,
// it maps zero pages over the rest of that window and returns; the read resumes over zeros,
// and read_mapped reports `shrunk` (or `failed`, EIO, if the file is still as long: the pages
// could not be read), so the caller throws away what it made of the bytes. Faults anywhere
// else go to the previous handler (by default the process dies, as it would without this
// one). The handler is the only process-wide state here; each thread's guarded window is
// thread_local.
//
// Not covered: a file cut inside the last page read (that page stays mapped, its tail reads
// as zeros, nothing faults). The caller compares the file's size with what it read after the
// read (hash_file does).
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace nodus::runtime::workers {

enum class map_read_status : std::uint8_t {
  done,        // every byte of the range was handed to the consumer
  stopped,     // the consumer asked to stop; `bytes` were handed over
  shrunk,      // the file was cut short while mapped: what was handed over is not the file's
  failed,      // a mapped page could not be read (`error`: EIO); the file was not cut
  unmappable,  // no mapping (`error`): read on another way from offset + `bytes` (0 unless a
               // later window's mmap failed)
};

struct map_read_result {
  map_read_status status = map_read_status::done;
  std::uint64_t bytes = 0;  // handed to the consumer
  int error = 0;            // errno: of the failed mmap (ENOTSUP: the SIGBUS handler is not in
                            // place; EOVERFLOW: the range is past off_t), or EIO for failed
};

// A non-owning callable: bool(std::span<const std::byte>) — false stops the read. It may only
// read the bytes, in user space (a system call handed them, e.g. write(), gets EFAULT where
// the read would fault), and must not keep the span.
class piece_consumer {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, piece_consumer>)
  piece_consumer(F& f) noexcept  // NOLINT(google-explicit-constructor): a view, like function_ref
      : object_(&f), call_([](void* o, std::span<const std::byte> p) { return (*static_cast<F*>(o))(p); }) {}
  bool operator()(std::span<const std::byte> piece) const { return call_(object_, piece); }

 private:
  void* object_;
  bool (*call_)(void*, std::span<const std::byte>);
};

// Maps [offset, offset + length) of `fd` one window at a time (the first about one piece, each
// next twice as large, up to map_window_bytes; each ends at a multiple of its size in the
// file) and hands it to `consume` in pieces of at most
// `piece_bytes`, in order. The caller sizes `length` from fstat; a file that shrinks below it
// meanwhile is reported as `shrunk`, never as a crash. Does not read past `length` (a file
// that grew is the caller's to go on reading). A consumer that stops at the last piece gets
// `done`.
map_read_result read_mapped(int fd, std::uint64_t offset, std::uint64_t length, std::size_t piece_bytes,
                            piece_consumer consume);

// The largest window: what is mapped (and populated in one go) at a time; also the most a
// read adds to the process's resident set (RssFile: page-cache pages, shared, not allocated).
inline constexpr std::size_t map_window_bytes = 8u << 20;

}  // namespace nodus::runtime::workers
