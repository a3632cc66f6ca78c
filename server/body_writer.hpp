#pragma once
// body_writer: the body of a streamed response (responder::send(header, writer)).
//
// The session writes the header through the connection's in-order queue, then hands the
// socket to the writer; the writer owns the pacing (write the next piece only when the
// previous one is written, so a slow reader makes it wait) and calls `done` exactly once, on
// the loop thread. On success the queue resumes (keep-alive); on error the response cannot
// be completed: the session logs it and closes the connection. Closing the socket (client
// gone, shutdown) makes pending operations complete with operation_aborted.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/files/file_sender.hpp"

namespace nodus::server {

class body_writer {
 public:
  using done_handler = std::function<void(boost::system::error_code ec, std::uint64_t bytes)>;
  virtual ~body_writer() = default;
  // `socket` outlives the operation; `done` gets the body bytes written (framing excluded).
  virtual void async_write(boost::asio::ip::tcp::socket& socket, done_handler done) = 0;
};

// Observes the end of a streamed body (stats, logs): ec and body bytes written.
using body_observer = std::function<void(boost::system::error_code ec, std::uint64_t bytes)>;

// [offset, offset + length) of an open file with sendfile(2) (files::async_send_file).
// The header must carry Content-Length = length.
class file_body_writer final : public body_writer {
 public:
  file_body_writer(files::unique_fd file, std::uint64_t offset, std::uint64_t length,
                   files::file_send_options options = {}, body_observer observer = {});
  void async_write(boost::asio::ip::tcp::socket& socket, done_handler done) override;

 private:
  files::unique_fd file_;
  std::uint64_t offset_;
  std::uint64_t length_;
  files::file_send_options options_;
  body_observer observer_;
};

// Chunked transfer encoding from a generator. `next(out)` fills `out` (cleared before each
// call) with the next chunk and returns true, or returns false at the end; it is called only
// once the previous chunk has been written. Memory: one chunk. The header must say
// Transfer-Encoding: chunked. A write that makes no progress for `stall_timeout` fails
// with timed_out.
class chunked_body_writer final : public body_writer {
 public:
  using generator = std::function<bool(std::string& out)>;
  explicit chunked_body_writer(generator next,
                               std::chrono::milliseconds stall_timeout = std::chrono::seconds(30),
                               body_observer observer = {});
  void async_write(boost::asio::ip::tcp::socket& socket, done_handler done) override;

 private:
  struct op;
  generator next_;
  std::chrono::milliseconds stall_timeout_;
  body_observer observer_;
};

}  // namespace nodus::server
