#pragma once
// body_reader: the request body of a body_mode::streamed route, pulled chunk by chunk.
//
//   r.add("/hash", {http::verb::post}, handler, {body_mode::streamed, /*max_body*/ 4ull << 30});
//   void handler(request& req, const request_context& ctx, responder res) {
//     auto body = std::make_shared<body_reader>(std::move(*ctx.body));  // header is in req
//     body->read([body](error_code ec, std::string_view chunk) { ... });
//   }
//
// Contract:
// - read(done) delivers the next chunk (1..64 KiB) or, with an empty `chunk` and no error,
//   the end of the body. `chunk` stays valid until the next read() (or the reader dies).
//   `done` always runs later on the loop thread, never inside read().
// - read_into(dst, done) fills the caller's buffer instead: `done(ec, n)` runs once `dst` is
//   full (n == dst.size()) or the body has ended (n < dst.size(); 0 at the end). For a
//   Content-Length body the session then reads the socket straight into `dst`, in reads as
//   large as `dst` has room (no 64 KiB steps, no copy through the session's buffer): the
//   way to take a large body at full speed. `dst` must stay valid until `done` has run or
//   has been destroyed — the session keeps `done` (and so whatever it owns) alive while a
//   socket read into `dst` is outstanding, even after an error. On an error, n counts the
//   bytes filled before it (a read outstanding when the body failed may have written more
//   into dst, uncounted). A fill that ends exactly at the body's end is followed by a
//   read that reports the end (n == 0), as with read(); an empty dst fails with
//   invalid_argument. read() or read_into() after the end reports the end again.
// - The session reads from the socket only while a read() is pending: a handler that does
//   not call read() stops the upload (TCP backpressure), so memory stays bounded whatever
//   the body size. One read at a time; read() after the end delivers the end again.
// - Content-Length and chunked bodies alike. The limit is route_options::max_body (0: the
//   server's --max-body); a declared Content-Length above it gets 413 before the handler
//   runs; a chunked body that grows past it fails the read with http::error::body_limit and
//   the session answers 413 itself (the responder becomes a no-op).
// - "Expect: 100-continue" is answered when the handler first calls read(), so a handler
//   that rejects the request without reading never makes the client send the body.
// - Time: the request timeout covers the header; each read that waits on the socket gets
//   the same budget as a progress timeout (no byte for that long → timed_out, connection
//   closed). A long upload that keeps moving never times out.
// - A disconnect or malformed framing fails the pending (or next) read with an error, and
//   the responder's on_cancel callback runs. After an error the reader only repeats it.
// - Further pipelined requests are not parsed until the body has been read to its end. A
//   handler that responds before reading the whole body gets its response sent, then the
//   connection is closed (the rest of the body is never read).
// Loop thread only. Move-only; dropping it unread is allowed (see the point above).
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace nodus::server {

namespace detail {
// Implemented by the connection that owns the body. Loop thread only.
class body_source {
 public:
  virtual ~body_source() = default;
  virtual void read_body(
      std::uint64_t seq,
      std::function<void(boost::system::error_code, std::string_view)> done) = 0;
  virtual void read_body_into(std::uint64_t seq, std::span<char> dst,
                              std::function<void(boost::system::error_code, std::size_t)> done) = 0;
};
}  // namespace detail

class body_reader {
 public:
  using read_handler = std::function<void(boost::system::error_code ec, std::string_view chunk)>;
  using fill_handler = std::function<void(boost::system::error_code ec, std::size_t n)>;

  body_reader() = default;
  body_reader(std::shared_ptr<detail::body_source> source, std::uint64_t seq) noexcept
      : source_(std::move(source)), seq_(seq) {}
  body_reader(body_reader&&) noexcept = default;
  body_reader& operator=(body_reader&&) noexcept = default;
  body_reader(const body_reader&) = delete;
  body_reader& operator=(const body_reader&) = delete;

  // See the contract above. A default-constructed reader fails at once with
  // operation_not_supported (inside read(): there is no loop to defer to).
  void read(read_handler done);
  // See the contract above.
  void read_into(std::span<char> dst, fill_handler done);

  explicit operator bool() const noexcept { return source_ != nullptr; }

 private:
  std::shared_ptr<detail::body_source> source_;
  std::uint64_t seq_ = 0;
};

}  // namespace nodus::server
